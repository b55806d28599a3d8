"""`Clock`: where the host, its scheduler and plugins (through `BotInfo`) get the time from."""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol

import anyio


class Clock(Protocol):
    """A source of the current time that can also be slept on; tests use one they move by hand."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware."""
        ...

    async def sleep_until(self, moment: dt.datetime | None, wake: anyio.Event) -> None:
        """Return at `moment` (never, when None), or earlier once `wake` is set."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> dt.datetime:
        """The current time in UTC."""
        return dt.datetime.now(dt.UTC)

    # Nanoseconds of a clock that only goes forward: what times waiting asks out (the
    # builtin itself, so reading it costs no Python frame).
    monotonic_ns = staticmethod(time.monotonic_ns)

    async def sleep_until(self, moment: dt.datetime | None, wake: anyio.Event) -> None:
        """Sleep until `moment` or until `wake` is set."""
        delay = None if moment is None else max(0.0, (moment - self.now()).total_seconds())
        with anyio.move_on_after(delay):
            await wake.wait()
