"""`BotInfo`: what a plugin may know about the bot it runs in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from botrt.config import BotConfig


class BotInfo:
    """The running bot's name, time zone, folder and command prefixes, live from ``bot.toml``.

    Plugins receive it by injection (annotate a parameter with `BotInfo`).
    """

    def __init__(self, config: Callable[[], BotConfig]) -> None:
        self._config = config

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
    def prefixes(self) -> tuple[str, ...]:
        """``[bot] prefixes``."""
        return tuple(self._config().bot.prefixes)

    def now(self) -> dt.datetime:
        """The current time in the bot's time zone."""
        return dt.datetime.now(self.timezone)

    def today(self) -> dt.date:
        """Today's date in the bot's time zone."""
        return self.now().date()
