"""How a waiting `ask()` ends without an answer: the exceptions it raises."""

from __future__ import annotations

from typing import ClassVar

from botrt._errors import BotrtError
from botrt.adapter import TextEvent
from botrt.i18n import N_


class ConversationEnded(BotrtError):
    """Raised by a waiting `ask()` that will get no answer.

    This class itself: the host stops (a restart) while the ask waits. Its
    subclasses say why otherwise. Left uncaught, the run ends quietly (no
    error is logged) after the user is told, in the bot's language, that the
    conversation ended and why (`notice`).

    Attributes:
        event: the conversation's latest message (the notice answers it).
    """

    notice: ClassVar[str] = N_(
        "The conversation was interrupted: the bot is restarting. Please start again in a minute."
    )
    """What the user is told when the exception goes uncaught (English; translated)."""

    def __init__(self, message: str, *, event: TextEvent | None = None) -> None:
        super().__init__(message)
        self.event = event


class ConversationTimeout(ConversationEnded):
    """Raised by `ask()` when no answer came within its timeout.

    Attributes:
        timeout: the seconds it waited.
    """

    notice: ClassVar[str] = N_("The conversation ended: no answer came in time.")

    def __init__(self, timeout: float, *, event: TextEvent | None = None) -> None:
        super().__init__(f"no answer came within {timeout:g} s", event=event)
        self.timeout = timeout


class ConversationCancelled(ConversationEnded):
    """Raised by `ask()` when the user answered with a cancel word (``[conversations] cancel``).

    Attributes:
        word: the cancel word as the user wrote it.
    """

    notice: ClassVar[str] = N_("The conversation was cancelled.")

    def __init__(self, word: str, *, event: TextEvent | None = None) -> None:
        super().__init__(f"the user cancelled the conversation with {word!r}", event=event)
        self.word = word
