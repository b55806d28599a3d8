"""What the runtime says to users on its own: on a failure, an unknown command, a limit.

Written in English and translated through the runtime's catalog (domain
``botrt``, `botrt.i18n.core_translator`); the host gives `Texts` the bot's
translator, a bare `Dispatcher` the identity one.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from typing import Protocol


class Translations(Protocol):
    """What `Texts` needs of a translator (`botrt.i18n.Translator` is one)."""

    def gettext(self, message: str) -> str:
        """`message` translated."""
        ...

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The form of `singular`/`plural` for `n`, translated."""
        ...


_SOURCE = gettext.NullTranslations()


class Texts:
    """The runtime's own replies, in the language of ``translations()`` (read per reply)."""

    __slots__ = ("_translations",)

    def __init__(self, translations: Callable[[], Translations] = lambda: _SOURCE) -> None:
        self._translations = translations

    def error(self) -> str:
        """The apology sent to a user whose message a flow failed on."""
        return self._translations().gettext("Sorry, something went wrong. Please try again later.")

    def unknown_command(self, help_command: str) -> str:
        """The hint sent for an unknown command in a private chat; `help_command` is ``/help``."""
        return (
            self._translations()
            .gettext("Unknown command. Send {help} to see the commands.")
            .format(help=help_command)
        )

    def cooldown(self, command: str, seconds: int) -> str:
        """The reply to a command used again within its cooldown: when to try again."""
        return (
            self._translations()
            .ngettext(
                "You can use {command} again in {n} second.",
                "You can use {command} again in {n} seconds.",
                seconds,
            )
            .format(command=command, n=seconds)
        )

    def flood(self, seconds: int) -> str:
        """The one notice to a user who sends too many messages: how long they are ignored."""
        return (
            self._translations()
            .ngettext(
                "You are sending messages too fast. I will answer again in {n} second.",
                "You are sending messages too fast. I will answer again in {n} seconds.",
                seconds,
            )
            .format(n=seconds)
        )
