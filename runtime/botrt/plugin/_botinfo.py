"""`BotInfo`: what a plugin may know about the bot it runs in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import anyio

from botrt.config import BotConfig
from botrt.i18n import Translator, core_translator
from botrt.plugin._clock import Clock, SystemClock


class BotInfo:
    """The running bot's name, time zone, language, folder and prefixes, live from ``bot.toml``.

    Plugins receive it by injection (annotate a parameter with `BotInfo`).
    Plugins that act at set times read the time from `now` and wait with
    `sleep_until`, never from the system directly, so tests can move time by
    hand.

    Attributes:
        clock: the host's clock, shared with its scheduler: the real one,
            unless a test sets another before the host starts.
    """

    def __init__(self, config: Callable[[], BotConfig], clock: Clock | None = None) -> None:
        self._config = config
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._core: Translator | None = None

    @property
    def name(self) -> str:
        """``[bot] name``."""
        return self._config().bot.name

    @property
    def timezone(self) -> dt.tzinfo:
        """``[bot] timezone`` as a tzinfo."""
        return self._config().bot.tzinfo

    @property
    def base_dir(self) -> Path:
        """The folder of ``bot.toml`` (relative paths in it start there)."""
        return self._config().base_dir

    @property
    def language(self) -> str:
        """``[bot] language``: ``"en"`` or ``"ru"``, the language users are answered in."""
        return self._config().bot.language

    def translator(self) -> Translator:
        """The runtime's own texts (refusals, a conversation's end, errors) in `language`.

        Made once, on first use; plugins translate their own texts with their
        planner's translator instead (``PLUGIN.gettext``).
        """
        if self._core is None:
            self._core = core_translator(lambda: self.language)
        return self._core

    @property
    def prefixes(self) -> tuple[str, ...]:
        """``[bot] prefixes``."""
        return tuple(self._config().bot.prefixes)

    def now(self) -> dt.datetime:
        """The current time in the bot's time zone, by the host's clock."""
        return self.clock.now().astimezone(self.timezone)

    def today(self) -> dt.date:
        """Today's date in the bot's time zone."""
        return self.now().date()

    async def sleep_until(self, moment: dt.datetime, wake: anyio.Event) -> None:
        """Return once the host's clock reaches `moment` (aware), or earlier once `wake` is set.

        It may return early: check the time again after it returns.
        """
        await self.clock.sleep_until(moment, wake)
