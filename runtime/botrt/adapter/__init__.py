"""Events as every platform delivers them, and the interfaces platforms implement."""

from botrt.adapter._adapter import Adapter, Submit
from botrt.adapter._event import (
    ButtonEvent,
    Event,
    ReplyNotSupportedError,
    ScheduleEvent,
    TextEvent,
)
from botrt.adapter._keyboard import Button, Keyboard, KeyboardError
from botrt.adapter._outbound import (
    UNREACHABLE,
    MemberInfo,
    MemberSource,
    Outbound,
    SendOutcome,
)
from botrt.adapter._text import MESSAGE_LIMIT, split_text

__all__ = [
    "MESSAGE_LIMIT",
    "UNREACHABLE",
    "Adapter",
    "Button",
    "ButtonEvent",
    "Event",
    "Keyboard",
    "KeyboardError",
    "MemberInfo",
    "MemberSource",
    "Outbound",
    "ReplyNotSupportedError",
    "ScheduleEvent",
    "SendOutcome",
    "Submit",
    "TextEvent",
    "split_text",
]
