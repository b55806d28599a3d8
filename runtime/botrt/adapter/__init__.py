"""Events as every platform delivers them, and the adapter interface platforms implement."""

from botrt.adapter._adapter import Adapter, Submit
from botrt.adapter._event import Event, ReplyNotSupportedError, TextEvent

__all__ = ["Adapter", "Event", "ReplyNotSupportedError", "Submit", "TextEvent"]
