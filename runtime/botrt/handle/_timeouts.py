"""The timeouts of waiting asks: a queue per timeout on the host's clock, one sweeper task.

No task, timer or loop handle per waiting ask: a waiter carries its deadline
and sits in the queue of its timeout itself. Deadlines are integer
nanoseconds: of the clock's `monotonic_ns` when it has one (the real clocks:
a C call per ask, no `datetime`), else of its `now()` (a test's clock).
Asks with the same timeout get their deadlines in the order they ask, so
each queue is in deadline order with no sorting (a bot has a few distinct
timeouts); a small heap orders the queues by their first deadline, and one
sweeper sleeps until the earliest.
An answered waiter (its deadline cleared) stays in its queue until it reaches
the head (dropped there by the next ask of that timeout, or by the sweeper),
or until answered ones outnumber the waiting asks (then the queues are rebuilt).
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import heapq
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

import anyio

from botrt.handle._done import DONE

if TYPE_CHECKING:
    from botrt.handle._waiters import Key, Waiter

log = logging.getLogger("botrt.conversations")


class DialogueClock(Protocol):
    """The host's clock, as `botrt.plugin.Clock` (handle cannot import plugin).

    A clock that also has ``monotonic_ns()`` (nanoseconds that only go
    forward, in step with `now`) times asks out by it.
    """

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

    # Nanoseconds of a clock that only goes forward: what times waiting asks out (the
    # builtin itself, so reading it costs no Python frame).
    monotonic_ns = staticmethod(time.monotonic_ns)

    async def sleep_until(self, moment: dt.datetime | None, wake: anyio.Event) -> None:
        """Return at `moment`, or earlier once `wake` is set."""
        delay = None if moment is None else max(0.0, (moment - self.now()).total_seconds())
        with anyio.move_on_after(delay):
            await wake.wait()


class _Queue(deque["Waiter"]):
    """The waiters of one timeout value, in deadline order (answered ones not yet dropped)."""

    __slots__ = ("seconds", "step")

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.step = round(seconds * 1e9)  # in nanoseconds, worked out once per timeout


# Compaction: answered entries are dropped all at once when more than this many
# outnumber the waiting asks (a few answers out of order must not rebuild the queues).
_SLACK = 64
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def _nanoseconds_of(clock: DialogueClock) -> Callable[[], int]:
    """What reads `clock` in integer nanoseconds: its `monotonic_ns`, else its `now()`'s."""
    monotonic_ns = getattr(clock, "monotonic_ns", None)
    if monotonic_ns is not None:
        return monotonic_ns  # type: ignore[no-any-return]
    # Exact: a datetime counts whole microseconds (a float would round).
    return lambda: (clock.now() - _EPOCH) // _MICROSECOND * 1000


class Deadlines:
    """The deadlines of the waiting asks of one `Dialogues`, and the sweeper that keeps them.

    `expire` is called with each waiter whose deadline passed while it
    still waits (the sweeper's task, on `clock`'s time). A waiter that stops
    waiting has its deadline cleared (`left`); its entry is dropped later.

    Attributes:
        stale: entries of waiters that no longer wait, not yet dropped.
    """

    __slots__ = (
        "_clock",
        "_expire",
        "_idle_check",
        "_ns",
        "_order",
        "_queues",
        "_seen_clock",
        "_sleeping_until",
        "_sweeper",
        "_wake",
        "stale",
        "waiting",
    )

    def __init__(
        self,
        waiting: dict[Key, Waiter],
        clock: Callable[[], DialogueClock],
        expire: Callable[[Waiter], None],
    ) -> None:
        self.waiting = waiting  # the live waiters
        self._clock = clock
        self._expire = expire
        self._queues: dict[float, _Queue] = {}  # by timeout in seconds
        # The queues by their first deadline (then their timeout: no tie between two
        # entries), one entry each; an entry's deadline may be earlier than its queue's
        # first one (answered heads dropped since): the sweeper moves it on.
        self._order: list[tuple[int, float, _Queue]] = []
        self.stale = 0
        self._idle_check = False
        self._sweeper: asyncio.Task[None] | None = None
        self._wake: anyio.Event | None = None
        self._sleeping_until: int | None = None
        # The clock the deadlines are counted on, and its reading in nanoseconds.
        self._seen_clock: object = None
        self._ns: Callable[[], int] = time.monotonic_ns

    def __len__(self) -> int:
        """Entries in the queues, answered ones not yet dropped included."""
        return sum(len(queue) for queue in self._queues.values())

    def add(self, waiter: Waiter, seconds: float) -> None:
        """Give `waiter` a deadline `seconds` from now."""
        queue = self._queues.get(seconds)
        if queue is None:
            self._add_first(waiter, seconds)
            return
        # The clock goes forward: this deadline is the queue's last, and no earlier
        # than the first one, which the sweeper already sleeps on (no wake-up).
        if self._clock() is not self._seen_clock:
            self._rebase()
        waiter.deadline = self._ns() + queue.step
        queue.append(waiter)
        while queue[0].deadline is None:  # answered heads (this one is not)
            queue.popleft()
            self.stale -= 1
        sweeper = self._sweeper
        if sweeper is None or sweeper.done():
            self._start()
        if self.stale > _SLACK and self.stale > len(self.waiting):
            self._compact()

    def _add_first(self, waiter: Waiter, seconds: float) -> None:
        """`add` for a timeout with no queue yet: the sweeper wakes if this one is earlier."""
        queue = self._queues[seconds] = _Queue(seconds)
        if self._clock() is not self._seen_clock:
            self._rebase()
        waiter.deadline = deadline = self._ns() + queue.step
        queue.append(waiter)
        heapq.heappush(self._order, (deadline, seconds, queue))
        sweeper = self._sweeper
        if sweeper is None or sweeper.done():
            self._start()
        elif self._sleeping_until is not None and deadline < self._sleeping_until:
            self._wake.set()  # type: ignore[union-attr]

    def _rebase(self) -> None:
        """Count deadlines on the host's clock now in use (a test swapped it): kept as far off."""
        clock = self._clock()
        ns = _nanoseconds_of(clock)
        if self._seen_clock is not None:
            shift = ns() - self._ns()
            for queue in self._queues.values():
                for waiter in queue:
                    if waiter.deadline is not None:
                        waiter.deadline += shift
            self._order = [(d + shift, seconds, queue) for d, seconds, queue in self._order]
            heapq.heapify(self._order)
            if self._wake is not None:
                self._wake.set()  # the sweeper sleeps on the old clock
        self._seen_clock = clock
        self._ns = ns

    def _start(self) -> None:
        # A context of its own: the sweeper must not keep the asking run's context alive.
        self._sweeper = asyncio.get_running_loop().create_task(
            self._sweep(), context=contextvars.Context()
        )

    def left(self, waiter: Waiter) -> None:
        """`waiter` stopped waiting (answered, timed out, cancelled, ended)."""
        if waiter.deadline is not None:
            waiter.deadline = None
            self.stale += 1
        if not self.waiting:
            self.idle()

    def overdue(self) -> bool:
        """Whether a waiting ask's deadline has passed and the sweeper has yet to end it."""
        if self._clock() is not self._seen_clock:
            self._rebase()
        now = self._ns()
        return any(w.deadline is not None and w.deadline <= now for w in self.waiting.values())

    def idle(self) -> None:
        """No ask waits now: the sweeper may have nothing left to wait for."""
        if self._wake is not None and not self._idle_check:
            # Checked once this step is over, since an answered run usually asks again
            # at once (one user's dialogue would otherwise end and restart the sweeper
            # at every answer).
            self._idle_check = True
            asyncio.get_running_loop().call_soon(self._wake_if_idle)

    def then_check_idle(self, resumed: Awaitable[None]) -> Awaitable[None]:
        """`resumed` (an answered run going on), then the sweeper ends if no ask waits.

        An answer that leaves no ask waiting: the run usually asks again before
        `resumed` is over, and then the sweeper goes on sleeping.
        """
        if self._wake is None:
            return resumed  # no sweeper asleep: nothing to end
        if resumed is DONE:  # the run already asks again, or ended
            if not self.waiting:
                self._wake.set()
            return resumed
        return self._then_check_idle(resumed)

    async def _then_check_idle(self, resumed: Awaitable[None]) -> None:
        try:
            await resumed
        finally:
            if not self.waiting and self._wake is not None:
                self._wake.set()

    def _wake_if_idle(self) -> None:
        self._idle_check = False
        if not self.waiting and self._wake is not None:
            self._wake.set()

    def _compact(self) -> None:
        for queue in self._queues.values():
            live = [w for w in queue if w.deadline is not None]
            queue.clear()
            queue.extend(live)
        self.stale = 0

    def _first(self) -> tuple[int, _Queue] | None:
        """The earliest deadline of a waiting ask and its queue; drops answered heads."""
        order = self._order
        while order:
            first, seconds, queue = order[0]
            while queue and queue[0].deadline is None:
                queue.popleft()
                self.stale -= 1
            if not queue:
                heapq.heappop(order)
                del self._queues[seconds]
                continue
            head = queue[0].deadline
            if head != first:
                heapq.heapreplace(order, (head, seconds, queue))  # type: ignore[arg-type]
                continue
            return first, queue
        return None

    def _clear(self) -> None:
        self._queues.clear()
        self._order.clear()
        self.stale = 0

    async def _sweep(self) -> None:
        try:
            while True:
                if not self.waiting:
                    self._clear()
                    return
                found = self._first()
                if found is None:
                    return
                clock = self._clock()
                if clock is not self._seen_clock:
                    self._rebase()
                    continue
                self._wake = wake = anyio.Event()
                self._sleeping_until = first = found[0]
                # Rounded up to the clock's microseconds: never woken before the deadline.
                moment = clock.now() + dt.timedelta(microseconds=-((self._ns() - first) // 1000))
                try:
                    await clock.sleep_until(moment, wake)
                finally:
                    self._sleeping_until = None
                    self._wake = None
                now = self._ns()
                while (found := self._first()) is not None and found[0] <= now:
                    waiter = found[1].popleft()
                    waiter.deadline = None  # out of its queue: not counted stale
                    self._expire(waiter)
        except Exception:
            log.exception("the timeouts of waiting asks failed; they wait without one now")
