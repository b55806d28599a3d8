"""What the storage lends its sibling packages (the VK adapters), not its users."""

from botrt.storage._inbox import Inbox

__all__ = ["Inbox"]
