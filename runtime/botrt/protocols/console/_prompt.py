"""The console prompt on a terminal, kept below whatever the bot writes.

Replies and logs arrive while the prompt waits for the next line. Written as
they come, they would follow the prompt (``> Commands: ...``) and leave the
cursor on a line without one. So anything written while the prompt shows first
erases it (carriage return, then ANSI "erase to end of line"), and the prompt is
drawn again after it: the terminal always ends with a fresh prompt.

Logs reach the terminal through the root logger's handlers (on standard
error); `logs_above` places a handler before and after them while the console runs.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import TextIO

ERASE_LINE = "\r\x1b[K"


class Prompt:
    """The prompt text on `out`, with whether it is the last thing on the screen."""

    def __init__(self, out: TextIO, text: str) -> None:
        self._out = out
        self._text = text
        self._shown = False
        self._redraw_after_log = False
        # Log records may come from any thread; the prompt's state and writes move together.
        self._lock = threading.RLock()

    def show(self) -> None:
        """Draw the prompt, unless it is already the last thing written."""
        with self._lock:
            if not self._shown:
                self._out.write(self._text)
                self._out.flush()
                self._shown = True

    def line_ended(self) -> None:
        """The user pressed Enter: the prompt's line is now the typed line."""
        with self._lock:
            self._shown = False

    def hide(self) -> bool:
        """Erase the prompt if it shows; returns whether it did."""
        with self._lock:
            if not self._shown:
                return False
            self._out.write(ERASE_LINE)
            self._out.flush()
            self._shown = False
            return True

    def before_log(self) -> None:
        """A log record is about to be written: erase the prompt, to draw it after the record."""
        with self._lock:
            self._redraw_after_log = self.hide() or self._redraw_after_log

    def after_log(self) -> None:
        """The log record is written: draw the prompt again if it was erased for it."""
        with self._lock:
            if self._redraw_after_log:
                self._redraw_after_log = False
                self.show()

    @contextlib.contextmanager
    def above(self) -> Iterator[None]:
        """Write something above the prompt: erased before, drawn again after."""
        with self._lock:
            was_shown = self.hide()
            try:
                yield
            finally:
                if was_shown:
                    self.show()


class _LogEdge(logging.Handler):
    """Placed first and last among a logger's handlers: erases, then redraws, the prompt."""

    def __init__(self, prompt: Prompt, *, first: bool) -> None:
        super().__init__()
        self._prompt = prompt
        self._first = first

    def emit(self, record: logging.LogRecord) -> None:
        if self._first:
            self._prompt.before_log()
        else:
            self._prompt.after_log()


@contextlib.contextmanager
def logs_above(prompt: Prompt, logger: logging.Logger | None = None) -> Iterator[None]:
    """While inside, every record `logger` (default: root) writes goes above the prompt."""
    target = logger if logger is not None else logging.getLogger()
    before, after = _LogEdge(prompt, first=True), _LogEdge(prompt, first=False)
    # Handlers run in list order: the eraser first, the redraw last.
    target.handlers.insert(0, before)
    target.handlers.append(after)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            target.handlers.remove(before)
        with contextlib.suppress(ValueError):
            target.handlers.remove(after)
