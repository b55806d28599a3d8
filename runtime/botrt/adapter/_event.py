"""The event types every platform builds on."""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable
from typing import Any

from botrt._errors import BotrtError


class ReplyNotSupportedError(BotrtError):
    """Raised by `TextEvent.reply` on an event whose platform cannot answer it."""


class Event:
    """Something that happened on a platform and that flows may handle.

    Every platform's events derive from this class, so a node annotated with
    `Event` runs for all of them.

    Attributes:
        platform: the platform's name (``"console"``, ``"vk"``, ``"memory"``).
        bot: the name of the bot account that received the event
            (``[[bots]] name`` in ``bot.toml``; ``"console"`` for the console).
        time: when botrt received it (seconds since the epoch).
        on_handled: None, or what the host calls (with no argument) once the
            event's handling has ended, whatever its outcome (a middleware
            that dropped it included; a cancelled run excluded): how an
            adapter with a durable inbox learns it may mark the event done.
    """

    __slots__ = ("bot", "on_handled", "platform", "time")

    def __init__(self, *, platform: str, bot: str, time_: float | None = None) -> None:
        self.platform = platform
        self.bot = bot
        self.time = time.time() if time_ is None else time_
        self.on_handled: Callable[[], object] | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} platform={self.platform!r} bot={self.bot!r}>"


class TextEvent(Event):
    """A text message from a user, which a flow can answer with `reply`.

    Attributes:
        text: the message text as the user wrote it.
        user_id: who wrote it.
        peer_id: the conversation it was written in (the user's own id in a
            private conversation; a chat's id in a group chat).
        payload: the payload of the keyboard button whose press sent this
            message (any JSON value; a platform that delivered a payload that
            is not JSON gives it as the raw string); None for typed text.
    """

    __slots__ = ("payload", "peer_id", "text", "user_id")

    def __init__(
        self,
        text: str,
        *,
        user_id: int,
        peer_id: int | None = None,
        platform: str,
        bot: str,
        time_: float | None = None,
        payload: Any = None,
    ) -> None:
        super().__init__(platform=platform, bot=bot, time_=time_)
        self.text = text
        self.user_id = user_id
        self.peer_id = user_id if peer_id is None else peer_id
        self.payload = payload

    async def reply(self, text: str, **options: Any) -> None:
        """Send `text` to the conversation this message came from.

        `options` are platform-specific (for VK: `attachment`, ...);
        ``keyboard=`` takes a `Keyboard` on every platform.

        :raises ReplyNotSupportedError: if the platform has no way to answer.
        """
        raise ReplyNotSupportedError(
            f"{type(self).__name__} from platform {self.platform!r} cannot be replied to"
        )

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} platform={self.platform!r} bot={self.bot!r} "
            f"user_id={self.user_id} text={self.text!r}>"
        )


class ButtonEvent(Event):
    """A press on a callback button (``Keyboard.button(..., callback=True)``).

    No message is written: the user waits for the bot to answer the press,
    with a snackbar (`show_snackbar`), by editing the message that carries
    the keyboard (`edit`), or with a new message (`reply`). Platforms
    subclass it (VK: `botrt.protocols.vk.MessageEvent`); annotate a node with
    `ButtonEvent` to take presses from any of them.

    Attributes:
        user_id: who pressed.
        peer_id: the conversation of the message with the keyboard.
        payload: the button's payload (any JSON value; None without one).
    """

    __slots__ = ("payload", "peer_id", "user_id")

    def __init__(
        self,
        *,
        user_id: int,
        peer_id: int,
        payload: Any = None,
        platform: str,
        bot: str,
        time_: float | None = None,
    ) -> None:
        super().__init__(platform=platform, bot=bot, time_=time_)
        self.user_id = user_id
        self.peer_id = peer_id
        self.payload = payload

    async def show_snackbar(self, text: str) -> None:
        """Answer the press with a short notice shown to the presser only.

        :raises ReplyNotSupportedError: if the platform cannot answer presses.
        """
        raise self._unsupported("answered with a snackbar")

    async def edit(self, text: str, *, keyboard: Any = None) -> None:
        """Replace the text (and the keyboard, when given) of the message that was pressed.

        :raises ReplyNotSupportedError: if the platform cannot edit messages.
        """
        raise self._unsupported("edited")

    async def reply(self, text: str, **options: Any) -> None:
        """Send `text` as a new message to the conversation of the press.

        :raises ReplyNotSupportedError: if the platform cannot answer presses.
        """
        raise self._unsupported("replied to")

    def _unsupported(self, what: str) -> ReplyNotSupportedError:
        return ReplyNotSupportedError(
            f"{type(self).__name__} from platform {self.platform!r} cannot be {what}"
        )

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} platform={self.platform!r} bot={self.bot!r} "
            f"user_id={self.user_id} payload={self.payload!r}>"
        )


class ScheduleEvent(Event):
    """A scheduled flow's slot has come: delivered to that flow only.

    There is no message to reply to: a scheduled flow sends through
    `Messenger` (or the platform API) that it receives by injection.

    Attributes:
        scheduled_for: the slot, an aware datetime in the schedule's time zone.
        late: how far past the slot it runs (a restart within the grace period).
        target: the flow this slot belongs to.
    """

    __slots__ = ("late", "scheduled_for", "target")

    def __init__(
        self,
        *,
        scheduled_for: _dt.datetime,
        target: object,
        bot: str,
        late: _dt.timedelta = _dt.timedelta(0),
    ) -> None:
        super().__init__(platform="schedule", bot=bot)
        self.scheduled_for = scheduled_for
        self.target = target
        self.late = late

    def __repr__(self) -> str:
        return f"<ScheduleEvent {self.scheduled_for.isoformat()} bot={self.bot!r}>"
