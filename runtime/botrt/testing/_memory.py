"""The in-memory platform `TestHost` talks through."""

from __future__ import annotations

from typing import Any

from botrt.adapter import TextEvent


class MemoryEvent(TextEvent):
    """A text message on the in-memory platform; replies are collected, not sent.

    Attributes:
        role: the role the test gave the sender (``"member"`` or ``"admin"``).
        replies: the texts replied to this message, in order.
        reply_options: the options passed with each reply, in the same order.
    """

    __slots__ = ("replies", "reply_options", "role")

    def __init__(
        self, text: str, *, user_id: int = 1, role: str = "member", bot: str = "memory"
    ) -> None:
        super().__init__(text, user_id=user_id, platform="memory", bot=bot)
        self.role = role
        self.replies: list[str] = []
        self.reply_options: list[dict[str, Any]] = []

    async def reply(self, text: str, **options: Any) -> None:
        """Record `text` as a reply to this message."""
        self.replies.append(str(text))
        self.reply_options.append(options)
