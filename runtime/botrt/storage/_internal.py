"""What `botrt.storage` lends its sibling packages (the host, the VK adapters): not public API."""

from botrt.storage._conversations import MAX_STATE, StateRows
from botrt.storage._inbox import Fence, Inbox

__all__ = ["MAX_STATE", "Fence", "Inbox", "StateRows"]
