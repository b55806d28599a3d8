"""Logs a person can read and a machine can parse, with secrets masked."""

from __future__ import annotations

import json
import logging
import sys
import urllib.parse
from collections.abc import Iterable
from typing import TextIO

from botrt.config import BotConfig

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
MASK = "***"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``.

    With ``error`` (the traceback) and ``stack`` (a logged stack) when the record has them.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as a single line of JSON."""
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Cached on the record as logging.Formatter does; a record may also arrive
        # with its traceback already rendered (exc_text but no exc_info).
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["error"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


class SecretMask:
    """Replaces configured secrets (tokens, webhook secrets, database passwords) in text.

    Each secret is also found as it shows inside a ``repr()``, quoted (or
    unquoted) in a URL, and escaped in a JSON string.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        found: set[str] = set()
        for secret in secrets:
            if not secret or len(secret) < 4:
                continue  # too short to tell from ordinary text
            for form in (
                secret,
                repr(secret)[1:-1],
                urllib.parse.quote(secret, safe=""),
                urllib.parse.quote_plus(secret, safe=""),
                urllib.parse.unquote(secret),  # a password written quoted in the URL
            ):
                found |= {form, json.dumps(form, ensure_ascii=False)[1:-1]}
        # Longest first: a form that holds another is replaced whole.
        self._forms = sorted(found, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def __call__(self, text: str) -> str:
        """`text` with every secret replaced by ``***``."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text


class MaskingHandler(logging.StreamHandler[TextIO]):
    """A stream handler that masks secrets in each formatted line, whatever its formatter.

    Masking the formatter's output, the one place every field passes
    through (message, traceback with its chained exceptions, stack), covers
    every format. botrt never logs secrets on purpose; this is the second
    line of defence against a library or plugin that does.
    """

    def __init__(self, stream: TextIO, secrets: Iterable[str]) -> None:
        super().__init__(stream)
        self.mask = SecretMask(secrets)

    def format(self, record: logging.LogRecord) -> str:
        """The formatter's output for `record`, secrets masked."""
        return self.mask(super().format(record))


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
    handler = MaskingHandler(sys.stderr, secrets)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # watchfiles logs every change set at INFO; botrt logs what it does about them.
    logging.getLogger("watchfiles").setLevel(max(logging.WARNING, logging.root.level))
