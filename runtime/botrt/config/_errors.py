"""`ConfigError` and `ConfigIssue`: every problem of a ``bot.toml``, reported at once."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from botrt._errors import BotrtError


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found in a config file.

    `path` is the key path (``bots[0].transport``, ``server.port``); it is empty
    for problems of the file as a whole (missing file, TOML syntax). `line` and
    `column` are 1-based and set only where the TOML parser gives a position.
    `detail` is shown on the lines after the message: for a syntax error, the
    offending line with a caret under the column, and what usually causes it.
    """

    path: str
    message: str
    line: int | None = None
    column: int | None = None
    detail: str = ""

    def render(self, file: str | None) -> str:
        """Format the issue as ``<file>: <key path>: <message>`` (or ``<file>:<line>:<col>: …``)."""
        head: list[str] = []
        if file is not None:
            where = file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            head.append(where)
        elif self.line is not None:
            head.append(f"line {self.line}")
        if self.path:
            head.append(self.path)
        text = ": ".join([*head, self.message])
        return f"{text}\n{self.detail}" if self.detail else text


class ConfigError(BotrtError):
    """A config file is missing, unreadable, not TOML, or does not match the schema.

    `issues` lists every problem found, in file order; `path` is the file they
    belong to (None when the config did not come from a file). ``str()`` gives
    one problem per line, so a user fixes them all in one go.
    """

    def __init__(self, issues: Iterable[ConfigIssue], path: str | os.PathLike[str] | None) -> None:
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        self.path: Path | None = None if path is None else Path(path)
        self._file: str | None = None if path is None else os.fspath(path)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(issue.render(self._file) for issue in self.issues)

    def __reduce__(self) -> tuple[type[ConfigError], tuple[tuple[ConfigIssue, ...], str | None]]:
        # Errors cross process boundaries (pytest-xdist, worker pools): rebuild from the
        # issues rather than from the rendered message `Exception` would pickle.
        return (type(self), (self.issues, self._file))
