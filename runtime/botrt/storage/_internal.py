"""What `botrt.storage` lends its sibling packages (the host): not public API."""

from botrt.storage._conversations import MAX_STATE, StateRows

__all__ = ["MAX_STATE", "StateRows"]
