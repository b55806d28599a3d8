"""The in-memory platform `TestHost` talks through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botrt.adapter import Button, ButtonEvent, Keyboard, Outbound, SendOutcome, TextEvent


@dataclass(slots=True)
class MemoryMessage:
    """A message the bot sent on the in-memory platform, as its reader sees it now.

    Attributes:
        message_id: its number, counted from 1 in the order messages were sent.
        peer_id: the conversation it went to.
        text: its text (changed by `ButtonEvent.edit`).
        keyboard: the `Keyboard` sent with it, None without one (a standard
            keyboard is also None once a later one replaced it or, for a
            one-time keyboard, once it was pressed).
    """

    message_id: int
    peer_id: int
    text: str
    keyboard: Keyboard | None = None


class MemoryEvent(TextEvent):
    """A text message on the in-memory platform; replies are collected, not sent.

    Attributes:
        role: the role the test gave the sender (``"member"`` or ``"admin"``).
        replies: the texts replied to this message, in order.
        reply_options: the options passed with each reply, in the same order.
        payload: the pressed button's payload (`TestHost.press`), None for typed text.

    `outbound`, when given, also records each reply as a `MemoryMessage` of
    that platform, so keyboards sent in replies can be pressed.
    """

    __slots__ = ("_outbound", "replies", "reply_options", "role")

    def __init__(
        self,
        text: str,
        *,
        user_id: int = 1,
        role: str = "member",
        bot: str = "memory",
        payload: Any = None,
        outbound: MemoryOutbound | None = None,
    ) -> None:
        super().__init__(text, user_id=user_id, platform="memory", bot=bot, payload=payload)
        self.role = role
        self.replies: list[str] = []
        self.reply_options: list[dict[str, Any]] = []
        self._outbound = outbound

    async def reply(self, text: str, **options: Any) -> None:
        """Record `text` as a reply to this message."""
        self.replies.append(str(text))
        self.reply_options.append(options)
        if self._outbound is not None:
            self._outbound.record(self.peer_id, str(text), options)


class MemoryButtonEvent(ButtonEvent):
    """A press on a callback button on the in-memory platform (`TestHost.press`).

    Answers are recorded on the platform: snackbars in
    `MemoryOutbound.snackbars`, edits on the pressed `message`, replies as new
    messages.

    Attributes:
        message: the message whose keyboard was pressed.
        role: the role the test gave the presser.
    """

    __slots__ = ("_outbound", "message", "role")

    def __init__(
        self,
        *,
        message: MemoryMessage,
        outbound: MemoryOutbound,
        user_id: int = 1,
        role: str = "member",
        payload: Any = None,
        bot: str = "memory",
    ) -> None:
        super().__init__(
            user_id=user_id, peer_id=message.peer_id, payload=payload, platform="memory", bot=bot
        )
        self.message = message
        self.role = role
        self._outbound = outbound

    async def show_snackbar(self, text: str) -> None:
        """Record `text` in `MemoryOutbound.snackbars`, for the presser."""
        self._outbound.snackbars.append((self.user_id, str(text)))

    async def edit(self, text: str, *, keyboard: Any = None) -> None:
        """Replace the pressed message's text and keyboard (none unless `keyboard` is given)."""
        self.message.text = str(text)
        self.message.keyboard = keyboard if isinstance(keyboard, Keyboard) and keyboard else None

    async def reply(self, text: str, **options: Any) -> None:
        """Record `text` as a new message to the press's conversation."""
        self._outbound.record(self.peer_id, str(text), options)


class MemoryOutbound(Outbound):
    """The in-memory platform's sending side: records what would be sent.

    Attributes:
        sent: ``(peer_id, text, options)`` for every message, in order.
        messages: every message as its reader sees it (replies included, when
            the event was given this outbound), keyboards and edits applied.
        snackbars: ``(user_id, text)`` for every snackbar shown, in order.
        unreachable: peers that refuse messages, with the error code to report
            (901/902 as on VK).
    """

    platform = "memory"
    batch_size = 100

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, dict[str, Any]]] = []
        self.messages: list[MemoryMessage] = []
        self.snackbars: list[tuple[int, str]] = []
        self.unreachable: dict[int, int] = {}
        self.keys: list[str] = []

    async def send(self, peer_id: int, text: str, **options: Any) -> None:
        """Record one message."""
        self.sent.append((peer_id, text, options))
        self.record(peer_id, text, options)

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
                self.record(peer, text, options)
                outcomes.append(SendOutcome(peer, True))
            else:
                outcomes.append(SendOutcome(peer, False, code, "cannot message this user"))
        return outcomes

    def to(self, peer_id: int) -> list[str]:
        """The texts sent to `peer_id`."""
        return [text for peer, text, _ in self.sent if peer == peer_id]

    def record(self, peer_id: int, text: str, options: dict[str, Any]) -> MemoryMessage:
        """Add a message to `messages`; a standard keyboard replaces the peer's previous one."""
        keyboard = options.get("keyboard")
        keyboard = keyboard if isinstance(keyboard, Keyboard) else None
        if keyboard is not None and not keyboard.inline:
            # A conversation has one standard keyboard: a new one (even an
            # empty one, which is how a keyboard is removed) replaces it.
            for old in self.messages:
                if old.peer_id == peer_id and old.keyboard is not None and not old.keyboard.inline:
                    old.keyboard = None
        message = MemoryMessage(len(self.messages) + 1, peer_id, text, keyboard or None)
        self.messages.append(message)
        return message

    def keyboards(self, peer_id: int) -> list[MemoryMessage]:
        """The messages to `peer_id` whose keyboard can still be pressed, newest first."""
        return [m for m in reversed(self.messages) if m.peer_id == peer_id and m.keyboard]

    def find_button(self, peer_id: int, label: str) -> tuple[MemoryMessage, Button] | None:
        """The newest pressable button labelled `label` in `peer_id`'s conversation."""
        for message in reversed(self.messages):
            keyboard = message.keyboard
            if message.peer_id == peer_id and keyboard:
                button = keyboard.find(label)
                if button is not None:
                    return message, button
        return None
