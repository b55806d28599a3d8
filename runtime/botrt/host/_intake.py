"""The host's intake: a bounded queue of events, its slots, its two handles, its statistics.

Shaped like anyio's memory object streams: one shared state (`IntakeState`)
and small handles onto it, made together by `open_intake`: an `IntakeSender`
(adapters, the scheduler) and an `IntakeWorker` (what `Host.serve` runs). It
is built on plain asyncio futures and tasks, since anyio's memory stream and
task group cost tens of µs per event; no loop callback is scheduled per event.
An event that holds a slot runs in its conversation's lane (`_lanes.py`).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from botrt.adapter import Event
from botrt.host._lanes import Lanes, lane_key

if TYPE_CHECKING:
    from botrt.host._intake_lane import IntakeLane


@dataclass(frozen=True)
class IntakeStatistics:
    """A snapshot of an intake, as anyio's ``MemoryObjectStreamStatistics`` is of a stream.

    Attributes:
        queued: events waiting in the queue.
        waiting_senders: senders waiting for room in a full queue.
        running: events taken for handling (a lane's backlog included).
        lanes: conversations with a lane running.
        closed: whether the intake stopped taking events.
    """

    queued: int
    waiting_senders: int
    running: int
    lanes: int
    closed: bool


@dataclass(eq=False)
class IntakeState:
    """What the handles of one intake share. Not used directly: see `open_intake`."""

    handle: InitVar[Callable[[Event], Awaitable[None]]]  # what the lanes run per event
    max_queue: int
    max_pending: int
    queue: deque[Event] = field(default_factory=deque)
    putters: deque[tuple[asyncio.Future[None], Event]] = field(default_factory=deque)
    getter: asyncio.Future[None] | None = None
    slot_waiter: asyncio.Future[None] | None = None
    running: int = 0
    serving: bool = False  # a worker runs: a sender may hand an event to its lane itself
    closed: bool = False
    drained: anyio.Event = field(default_factory=anyio.Event)
    lanes: Lanes = field(init=False)

    def __post_init__(self, handle: Callable[[Event], Awaitable[None]]) -> None:
        self.lanes = Lanes(handle, self.release)

    def wake_getter(self) -> None:
        """Wake the worker if it waits for an event."""
        getter = self.getter
        if getter is not None and not getter.done():
            getter.set_result(None)

    def take_putter(self) -> None:
        """A slot opened in the queue: move the first sender still waiting into it."""
        putters = self.putters
        while putters:
            waiter, event = putters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self.queue.append(event)
                return

    def release(self) -> None:
        """An event finished: hand its slot to the worker's held event, or give it back."""
        waiter = self.slot_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        else:
            self.running -= 1

    def statistics(self) -> IntakeStatistics:
        """The intake's counts now."""
        return IntakeStatistics(
            queued=len(self.queue),
            waiting_senders=sum(1 for w, _ in self.putters if not w.done()),
            running=self.running,
            lanes=len(self.lanes.backlogs),
            closed=self.closed,
        )


class IntakeSender:
    """The sending end: queue events, wait while the queue is full, close."""

    __slots__ = ("_state",)

    def __init__(self, state: IntakeState) -> None:
        self._state = state

    def run_directly(
        self,
        begin: Callable[[Event, IntakeLane], Coroutine[Any, Any, Any] | None] | None,
        end: Callable[[IntakeLane, bool], None],
    ) -> None:
        """How the lanes run an event from now on: `begin`, then `end` (see `Lanes`).

        None: the `handle` the intake was opened with, a coroutine per event.
        """
        lanes = self._state.lanes
        lanes.begin = begin
        lanes.end = end

    def send_nowait(self, event: Event) -> None:
        """Take `event` now if there is room.

        :raises anyio.WouldBlock: the queue is full; `send` waits for room.
        :raises anyio.ClosedResourceError: the intake stopped taking events.
        """
        state = self._state
        if state.closed:
            raise anyio.ClosedResourceError
        queue = state.queue
        if not queue and state.serving and state.running < state.max_pending:
            # Nothing waits ahead of it and a slot is free: take it now, as the
            # worker would, without waking the worker (a loop iteration).
            state.running += 1
            state.lanes.start(event)
            return
        if len(queue) >= state.max_queue:
            raise anyio.WouldBlock
        queue.append(event)
        state.wake_getter()

    async def send(self, event: Event) -> None:
        """Take `event`, waiting while the queue is full (backpressure).

        :raises anyio.ClosedResourceError: the intake stopped taking events.
        """
        try:
            self.send_nowait(event)
            return
        except anyio.WouldBlock:
            pass
        state = self._state
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (waiter, event)
        state.putters.append(entry)
        state.wake_getter()  # a zero-length queue: the worker takes it from here
        try:
            await waiter
        except BaseException:
            # Still waiting: withdraw the event. Already moved into the queue: it stays.
            with suppress(ValueError):
                state.putters.remove(entry)
            raise

    def push(self, event: Event) -> None:
        """Queue `event` now, past `max_queue` if need be; never waits.

        :raises anyio.ClosedResourceError: the intake stopped taking events.
        """
        state = self._state
        if state.closed:
            raise anyio.ClosedResourceError
        state.queue.append(event)
        state.wake_getter()

    def busy(self, event: Event) -> bool:
        """Whether an event of `event`'s conversation is being handled or waits for it."""
        key = lane_key(event)
        state = self._state
        return state.lanes.busy(key) or any(lane_key(e) == key for e in state.queue)

    def close(self) -> None:
        """Stop taking events; the worker drains what is queued (and waiting), then ends."""
        self._state.closed = True
        self._state.wake_getter()

    def statistics(self) -> IntakeStatistics:
        """The intake's counts now."""
        return self._state.statistics()


class IntakeWorker:
    """The receiving end: takes queued events into their lanes, as slots free."""

    __slots__ = ("_state",)

    def __init__(self, state: IntakeState) -> None:
        self._state = state

    async def run(self) -> None:
        """Take events until the intake is closed and drained, then wait for the lanes."""
        state = self._state
        # Lanes run in copies of the serving context (as tasks of its task group would).
        state.lanes.context = contextvars.copy_context()
        state.lanes.closing = False  # workers stay (a few) until the end of this run
        state.serving = True
        try:
            await self._take_all(state)
            await state.lanes.join()
        finally:
            state.serving = False
        state.drained.set()

    @staticmethod
    async def _take_all(state: IntakeState) -> None:
        loop = asyncio.get_running_loop()
        queue = state.queue
        start = state.lanes.start
        while True:
            if not queue:
                state.take_putter()  # a zero-length queue hands over from waiting senders
                if queue:
                    continue
                if state.closed:
                    return
                state.getter = getter = loop.create_future()
                try:
                    await getter
                finally:
                    state.getter = None
                continue
            event = queue.popleft()
            if state.putters:
                state.take_putter()
            if state.running < state.max_pending:
                state.running += 1
            else:
                # Hold this event until a slot frees: `release` hands the slot over
                # without giving it back, so no later `send` can overtake this event.
                state.slot_waiter = waiter = loop.create_future()
                try:
                    await waiter
                finally:
                    state.slot_waiter = None
            start(event)

    async def wait_drained(self) -> None:
        """Return once `run` has handled every event and ended."""
        await self._state.drained.wait()

    async def cancel_lanes(self) -> None:
        """Cancel the lanes' workers (plain asyncio tasks) and wait for them."""
        await self._state.lanes.cancel()


def open_intake(
    handle: Callable[[Event], Awaitable[None]], *, max_queue: int, max_pending: int
) -> tuple[IntakeSender, IntakeWorker]:
    """An intake that runs `handle` for each event; its two ends share one state.

    At most `max_queue` events wait (then `IntakeSender.send` waits) and at
    most `max_pending` are taken for handling at once.
    """
    state = IntakeState(handle, max_queue, max_pending)
    return IntakeSender(state), IntakeWorker(state)
