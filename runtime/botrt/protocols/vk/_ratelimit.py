"""A request limiter: at most N requests in any window of one period."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from time import monotonic

import anyio

from botrt.protocols.vk._errors import VkConfigError

# VK counts requests when they arrive, we count them when they leave: a small
# margin keeps network jitter from squeezing two windows' worth into one of
# VK's seconds.
DEFAULT_MARGIN = 0.05


@dataclass(frozen=True, slots=True)
class LimiterStatistics:
    """A snapshot of a `RateLimiter`'s counters.

    Attributes:
        acquired: how many requests were let through.
        delayed: how many of them had to wait for a slot.
        waited: the seconds spent waiting, summed over every request.
    """

    acquired: int
    delayed: int
    waited: float


class RateLimiter:
    """Lets through at most `rate` requests per second, in bursts of up to `rate`.

    A token bucket whose tokens come back one period after they were spent:
    unlike a bucket refilled continuously, it never allows more than `burst`
    requests in any window of `period` seconds, which is how VK counts. With
    `rate` below 1 the burst is 1 and the period grows (0.5 → one per 2 s).

    Waiters are served in arrival order and sleep (no polling) until their
    slot frees up. Cancelling a waiter gives up its turn and spends nothing.
    """

    def __init__(self, rate: float, *, margin: float = DEFAULT_MARGIN) -> None:
        """Create a limiter for `rate` requests per second.

        :raises VkConfigError: if `rate` is not a positive finite number or
            `margin` is negative.
        """
        if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
            raise VkConfigError(f"rate_limit must be a positive number, got {rate!r}")
        if margin < 0:
            raise VkConfigError(f"margin must not be negative, got {margin!r}")
        self.rate = float(rate)
        self.burst = max(1, int(rate))
        self.period = self.burst / self.rate + margin
        self._sent: deque[float] = deque()
        self._lock = anyio.Lock()
        self._acquired = 0
        self._delayed = 0
        self._waited = 0.0

    async def acquire(self) -> None:
        """Wait until one more request fits in the limit, and count it as sent."""
        sent = self._sent
        if not self._lock.locked():
            # Room now and nobody waiting: take it without a trip through the
            # event loop (the lock would cost every API call one).
            now = monotonic()
            if len(sent) < self.burst or sent[0] + self.period <= now:
                if len(sent) >= self.burst:
                    sent.popleft()
                sent.append(now)
                self._acquired += 1
                return
        async with self._lock:
            now = monotonic()
            if len(self._sent) >= self.burst:
                free_at = self._sent[0] + self.period
                if free_at > now:
                    self._delayed += 1
                    self._waited += free_at - now
                    await anyio.sleep(free_at - now)
                self._sent.popleft()
            self._sent.append(monotonic())
            self._acquired += 1

    def statistics(self) -> LimiterStatistics:
        """Return the limiter's counters."""
        return LimiterStatistics(self._acquired, self._delayed, self._waited)

    def __repr__(self) -> str:
        return f"<RateLimiter rate={self.rate:g}/s burst={self.burst}>"
