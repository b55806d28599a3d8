"""What every command shares: logging set-up and reading ``bot.toml``."""

from __future__ import annotations

import sys

from botrt.cli._logging import setup_logging
from botrt.config import BotConfig, ConfigError, load_config

__all__ = ["DEFAULT_CONFIG", "config_arg", "read_config", "setup_logging"]

DEFAULT_CONFIG = "bot.toml"


def config_arg(given: str | None) -> str:
    """The config file a command reads: `given` by ``--config``, else ``./bot.toml``."""
    return DEFAULT_CONFIG if given is None else given


def read_config(given: str | None) -> BotConfig | None:
    """The config a command runs on, or None after printing why not.

    Without ``--config`` (`given` is None) a missing ``./bot.toml`` gives the
    defaults; a file named with ``--config`` must exist, or a typo in its name
    would quietly run the defaults.
    """
    try:
        return load_config(config_arg(given), missing_ok=given is None)
    except ConfigError as exc:
        print(f"botrt: invalid configuration:\n{exc}", file=sys.stderr)
        return None
