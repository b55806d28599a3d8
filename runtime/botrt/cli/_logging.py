"""Logs a person can read and a machine can parse, with secrets masked."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable

from botrt.config import BotConfig

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message`` (+ ``error``)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as a single line of JSON."""
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class SecretFilter(logging.Filter):
    """Masks configured secrets (tokens, webhook secrets, database passwords) in every record.

    botrt never logs them on purpose; this is the second line of defence
    against a library or plugin that does.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with every secret replaced by ``***``."""
        if not self._secrets:
            return True
        message = record.getMessage()
        text = message
        for secret in self._secrets:
            text = text.replace(secret, "***")
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            exc_text = record.exc_text
            for secret in self._secrets:
                exc_text = exc_text.replace(secret, "***")
            record.exc_text = exc_text
        if text != message or record.args:
            record.msg, record.args = text, None
        return True


def secrets_of(config: BotConfig) -> list[str]:
    """Every secret value in `config`."""
    found: list[str] = []
    for bot in config.bots:
        found += [bot.token, bot.secret or "", bot.confirmation or ""]
    url = config.storage.url
    if "://" in url and "@" in url.split("://", 1)[1]:
        credentials = url.split("://", 1)[1].split("@", 1)[0]
        if ":" in credentials:
            found.append(credentials.split(":", 1)[1])
    return found


def setup_logging(level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Log to standard error (standard output is for replies), as text or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(SecretFilter(secrets))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # watchfiles logs every change set at INFO; botrt logs what it does about them.
    logging.getLogger("watchfiles").setLevel(max(logging.WARNING, logging.root.level))
