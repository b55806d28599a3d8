"""What every command shares: logging set-up and reading ``bot.toml``."""

from __future__ import annotations

import sys

from botrt.cli._logging import setup_logging
from botrt.config import BotConfig, ConfigError, load_config

__all__ = ["read_config", "setup_logging"]


def read_config(path: str) -> BotConfig | None:
    """The config at `path` (defaults when the file is absent), or None after printing why not."""
    try:
        return load_config(path, missing_ok=True)
    except ConfigError as exc:
        print(f"botrt: invalid configuration:\n{exc}", file=sys.stderr)
        return None
