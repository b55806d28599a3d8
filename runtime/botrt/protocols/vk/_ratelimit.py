"""A request limiter: at most N requests reach VK in any window of one period."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio

from botrt.protocols.vk._errors import VkConfigError, VkError
from botrt.protocols.vk._timer import MonotonicTimer, Timer

DEFAULT_MARGIN = 0.0
"""Seconds added to each period. None are needed for VK's count: see `RateLimiter`."""


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
    """Lets at most `burst` requests reach VK in any window of `period` seconds.

    VK counts a request when it arrives, which is some time after the client
    let it go: a starved event loop, a slow connection or the network can
    delay it by any amount, and a limiter that counted requests when it let
    them go would let two windows' worth land in one of VK's seconds. So a
    request holds one of `burst` slots from `acquire` until `release` (its
    answer came back, or it failed), and the slot is free again one `period`
    after the release. VK saw the request between those two moments, so the
    next request in the same slot reaches VK at least one period after it,
    however late either one travels.

    Use it as ``async with limiter.slot(): <send, read the answer>``. With
    `rate` below 1 the burst is 1 and the period grows (0.5 → one per 2 s).
    Waiters are served in arrival order and sleep (no polling) until a slot
    frees up; cancelling a waiter gives up its turn and spends nothing.

    `set_rate` changes the rate of a limiter in use (a cluster worker's share
    of its bot's limit, as workers join and leave): see there.

    Attributes:
        rate: requests per second; `burst` slots, each free again `period` s after its release.
        spacing: `period` / `burst`, the mean time between two requests at the full rate.
        margin: seconds added to each period.
    """

    def __init__(
        self, rate: float, *, margin: float = DEFAULT_MARGIN, timer: Timer | None = None
    ) -> None:
        """Create a limiter for `rate` requests per second, timed by `timer` (the real one).

        :raises VkConfigError: if `rate` is not a positive finite number or
            `margin` is negative.
        """
        _check_rate(rate)
        if margin < 0:
            raise VkConfigError(f"margin must not be negative, got {margin!r}")
        self.margin = margin
        self.rate, self.burst, self.period = _shape(rate, margin)
        self.spacing = self.period / self.burst
        self.timer: Timer = timer if timer is not None else MonotonicTimer()
        # The sleep of the waiter at the head while a slot cools: a raised rate ends it.
        self._nap: anyio.CancelScope | None = None
        self._in_flight = 0
        # When each released slot may be taken again, oldest first.
        self._cooling: deque[float] = deque()
        # Set by `release` for a waiter whom every slot in flight keeps waiting;
        # None while nobody waits so (a release then pays nothing for it).
        self._released: anyio.Event | None = None
        self._lock = anyio.Lock()
        self._acquired = 0
        self._delayed = 0
        self._waited = 0.0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot for the request sent inside the block; released however it ends."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    async def acquire(self) -> None:
        """Wait for a free slot and take it; `release` it once the request is answered."""
        started = self.timer.now()
        if not self._lock.locked() and self._take(started):
            # Room now and nobody waiting: no trip through the event loop (the
            # lock would cost every API call one).
            return
        async with self._lock:
            now = self.timer.now()
            while not self._take(now):
                if self._cooling:
                    try:
                        with anyio.CancelScope() as self._nap:
                            await self.timer.sleep(self._cooling[0] - now)
                    finally:
                        self._nap = None
                else:
                    # Every slot is in flight: the first release frees one.
                    self._released = released = anyio.Event()
                    await released.wait()
                now = self.timer.now()
            if now > started:
                self._delayed += 1
                self._waited += now - started

    def set_rate(self, rate: float) -> None:
        """Let `rate` requests per second through from now on; the guarantee still holds.

        Slots taken stay taken until their release: requests in flight are not
        disturbed. Every slot released (cooling) is free again one new period
        after its release, so the limiter then counts as if it had always had
        the new rate. A lowered rate lets no request through until fewer than
        the new `burst` slots are taken or cooling: no burst slips through the
        change. A raised rate frees its capacity at once (waiters wake).

        :raises VkConfigError: if `rate` is not a positive finite number.
        """
        _check_rate(rate)
        raised = rate > self.rate
        rate, burst, period = _shape(rate, self.margin)
        shift = period - self.period
        if shift:
            self._cooling = deque(moment + shift for moment in self._cooling)
        self.rate, self.burst, self.period = rate, burst, period
        self.spacing = period / burst
        if raised:
            if self._nap is not None:
                self._nap.cancel()
            released = self._released
            if released is not None:
                self._released = None
                released.set()

    def free(self, now: float | None = None) -> int:
        """How many slots are free now (none is taken by this).

        `now` is the timer's time, when the caller has just read it.
        """
        cooling = self._cooling
        if now is None:
            now = self.timer.now()
        while cooling and cooling[0] <= now:
            cooling.popleft()
        # Below zero just after a lowered rate: none is free then.
        return max(0, self.burst - self._in_flight - len(cooling))

    def try_acquire(self, now: float | None = None) -> bool:
        """Take a slot if one is free now and nobody waits for one; never waits.

        Returns whether a slot was taken (then `release` it as after `acquire`).
        `now` is the timer's time, when the caller has just read it.
        """
        if self._lock.locked():
            return False
        return self._take(self.timer.now() if now is None else now)

    def release(self, *, used: bool = True) -> None:
        """Give back a slot taken by `acquire`: it is free again one period from now.

        With `used=False` (no request was sent in it) it is free at once.

        :raises VkError: if no slot is taken.
        """
        if self._in_flight == 0:
            raise VkError("RateLimiter.release() without a matching acquire()")
        self._in_flight -= 1
        if used:
            self._cooling.append(self.timer.now() + self.period)
        else:
            self._acquired -= 1
        released = self._released
        if released is not None:
            self._released = None
            released.set()

    def _take(self, now: float) -> bool:
        cooling = self._cooling
        while cooling and cooling[0] <= now:
            cooling.popleft()
        if self._in_flight + len(cooling) >= self.burst:
            return False
        self._in_flight += 1
        self._acquired += 1
        return True

    def statistics(self) -> LimiterStatistics:
        """Return the limiter's counters."""
        return LimiterStatistics(self._acquired, self._delayed, self._waited)

    def __repr__(self) -> str:
        return f"<RateLimiter rate={self.rate:g}/s burst={self.burst}>"


def _check_rate(rate: float) -> None:
    if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
        raise VkConfigError(f"rate_limit must be a positive number, got {rate!r}")


def _shape(rate: float, margin: float) -> tuple[float, int, float]:
    # (rate, burst, period): below 1 per second, one slot and a longer period.
    burst = max(1, int(rate))
    return float(rate), burst, burst / rate + margin
