"""`Timer`: the clock VK's rate limiter, retries and Long Poll read and sleep on."""

from __future__ import annotations

import time
from typing import Protocol

import anyio


class Timer(Protocol):
    """Monotonic seconds, and a way to wait for them to pass.

    `VkApi(timer=...)` takes one; tests give a timer they move by hand, so
    pacing and backoff are checked without waiting for real.
    """

    def now(self) -> float:
        """Seconds from an arbitrary start; never goes back."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once `seconds` have passed on this timer."""
        ...


class MonotonicTimer:
    """The real timer: `time.monotonic` and `anyio.sleep`."""

    def now(self) -> float:
        """`time.monotonic()`."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """`anyio.sleep(seconds)`."""
        await anyio.sleep(seconds)
