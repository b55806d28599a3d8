"""The in-memory platform `TestHost` talks through."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botrt.adapter import Outbound, SendOutcome, TextEvent


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


class MemoryOutbound(Outbound):
    """The in-memory platform's sending side: records what would be sent.

    Attributes:
        sent: ``(peer_id, text, options)`` for every message, in order.
        unreachable: peers that refuse messages, with the error code to report
            (901/902 as on VK).
    """

    platform = "memory"
    batch_size = 100

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, dict[str, Any]]] = []
        self.unreachable: dict[int, int] = {}
        self.keys: list[str] = []

    async def send(self, peer_id: int, text: str, **options: Any) -> None:
        """Record one message."""
        self.sent.append((peer_id, text, options))

    async def send_many(
        self, peer_ids: Sequence[int], text: str, *, key: str, **options: Any
    ) -> list[SendOutcome]:
        """Record the message for each reachable peer; report the unreachable ones."""
        self.keys.append(key)
        outcomes = []
        for peer in peer_ids:
            code = self.unreachable.get(peer)
            if code is None:
                self.sent.append((peer, text, options))
                outcomes.append(SendOutcome(peer, True))
            else:
                outcomes.append(SendOutcome(peer, False, code, "cannot message this user"))
        return outcomes

    def to(self, peer_id: int) -> list[str]:
        """The texts sent to `peer_id`."""
        return [text for peer, text, _ in self.sent if peer == peer_id]
