"""The timeouts of waiting asks: one heap on the host's clock, one sweeper task while any waits.

No task, timer or loop handle per waiting ask: a waiter carries its deadline
and sits in the heap itself (ordered by it), and one sweeper sleeps until the
earliest deadline. An answered waiter stays in the heap until it is popped,
or until answered ones are most of the heap (then the heap is rebuilt).
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import heapq
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import anyio

if TYPE_CHECKING:
    from botrt.handle._waiters import Key, Waiter

log = logging.getLogger("botrt.conversations")


class DialogueClock(Protocol):
    """The host's clock, as `botrt.plugin.Clock` (handle cannot import plugin)."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware."""
        ...

    async def sleep_until(self, moment: dt.datetime | None, wake: anyio.Event) -> None:
        """Return at `moment`, or earlier once `wake` is set."""
        ...


class WallClock:
    """The real time, for a dispatcher without a host (the host passes its own clock)."""

    def now(self) -> dt.datetime:
        """The current time in UTC."""
        return dt.datetime.now(dt.UTC)

    async def sleep_until(self, moment: dt.datetime | None, wake: anyio.Event) -> None:
        """Return at `moment`, or earlier once `wake` is set."""
        delay = None if moment is None else max(0.0, (moment - self.now()).total_seconds())
        with anyio.move_on_after(delay):
            await wake.wait()


class Deadlines:
    """The deadlines of the waiting asks of one `Dialogues`, and the sweeper that keeps them.

    `expire` is called with each waiter whose deadline passed while it
    still waits (the sweeper's task, on `clock`'s time).
    """

    __slots__ = (
        "_clock",
        "_expire",
        "_heap",
        "_idle_check",
        "_sleeping_until",
        "_stale",
        "_sweeper",
        "_wake",
        "waiting",
    )

    def __init__(
        self,
        waiting: dict[Key, Waiter],
        clock: Callable[[], DialogueClock],
        expire: Callable[[Waiter], None],
    ) -> None:
        self.waiting = waiting  # the live waiters: a popped one not in it is stale
        self._clock = clock
        self._expire = expire
        # Waiters, ordered by deadline (`Waiter.__lt__`); answered ones stay until popped.
        self._heap: list[Waiter] = []
        self._stale = 0
        self._idle_check = False
        self._sweeper: asyncio.Task[None] | None = None
        self._wake: anyio.Event | None = None
        self._sleeping_until: dt.datetime | None = None

    def __len__(self) -> int:
        """Entries in the heap, answered ones not yet popped included."""
        return len(self._heap)

    def add(self, waiter: Waiter, seconds: float) -> None:
        """Give `waiter` a deadline `seconds` from now."""
        deadline = self._clock().now() + dt.timedelta(seconds=seconds)
        waiter.deadline = deadline
        heapq.heappush(self._heap, waiter)
        sweeper = self._sweeper
        if sweeper is None or sweeper.done():
            # A context of its own: the sweeper must not keep the asking run's context alive.
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep(), context=contextvars.Context()
            )
        elif self._sleeping_until is not None and deadline < self._sleeping_until:
            self._wake.set()  # type: ignore[union-attr]
        if self._stale > 64 and self._stale * 2 > len(self._heap):
            self._compact()

    def left(self, waiter: Waiter) -> None:
        """`waiter` stopped waiting (answered, timed out, cancelled, ended)."""
        if waiter.deadline is not None:
            self._stale += 1
        if not self.waiting and self._wake is not None and not self._idle_check:
            # The sweeper may have nothing left to wait for; checked once this step is
            # over, since an answered run usually asks again at once (one user's dialogue
            # would otherwise end and restart the sweeper at every answer).
            self._idle_check = True
            asyncio.get_running_loop().call_soon(self._wake_if_idle)

    def _wake_if_idle(self) -> None:
        self._idle_check = False
        if not self.waiting and self._wake is not None:
            self._wake.set()

    def _live(self, waiter: Waiter) -> bool:
        return self.waiting.get(waiter.key) is waiter

    def _compact(self) -> None:
        live = [w for w in self._heap if self._live(w)]
        heapq.heapify(live)
        self._heap = live
        self._stale = 0

    async def _sweep(self) -> None:
        try:
            while True:
                heap = self._heap
                if not self.waiting:
                    heap.clear()
                    self._stale = 0
                    return
                while heap and not self._live(heap[0]):
                    heapq.heappop(heap)
                    self._stale -= 1
                if not heap:
                    return
                clock = self._clock()
                self._wake = wake = anyio.Event()
                self._sleeping_until = first = heap[0].deadline
                try:
                    await clock.sleep_until(first, wake)
                finally:
                    self._sleeping_until = None
                    self._wake = None
                now = clock.now()
                heap = self._heap
                while heap and heap[0].deadline <= now:  # type: ignore[operator]
                    waiter = heapq.heappop(heap)
                    if self._live(waiter):
                        self._expire(waiter)  # counts it stale through `left`
                    self._stale -= 1
        except Exception:
            log.exception("the timeouts of waiting asks failed; they wait without one now")
