"""What every command shares: logging set-up and reading ``bot.toml``."""

from __future__ import annotations

import logging
import sys

from botrt.config import BotConfig, ConfigError, load_config


def setup_logging(level: str = "INFO") -> None:
    """Log to standard error (standard output is for replies)."""
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        force=True,
    )


def read_config(path: str) -> BotConfig | None:
    """The config at `path` (defaults when the file is absent), or None after printing why not."""
    try:
        return load_config(path, missing_ok=True)
    except ConfigError as exc:
        print(f"botrt: invalid configuration:\n{exc}", file=sys.stderr)
        return None
