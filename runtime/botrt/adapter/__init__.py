"""Events as every platform delivers them: the base `Event` and `TextEvent`."""

from botrt.adapter._event import Event, ReplyNotSupportedError, TextEvent

__all__ = ["Event", "ReplyNotSupportedError", "TextEvent"]
