"""The host's intake: a bounded queue of events, per-conversation lanes, their statistics.

Shaped like anyio's memory object streams: one shared state (`IntakeState`)
and small handles onto it, made together by `open_intake`: an `IntakeSender`
(adapters, the scheduler) and an `IntakeWorker` (what `Host.serve` runs). It
is built on plain asyncio futures and tasks, since anyio's memory stream and
task group cost tens of µs per event; no loop callback is scheduled per event.

A run waiting in `ask()` detaches from its lane (`_IntakeLane.release`): it
gives its slot back and its lane's backlog to a fresh lane task, so its chat
and the host go on; its own task ends with the run. At a stop, once every
event still attached is done, the detached runs are told to end.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import anyio

from botrt.adapter import Event, ScheduleEvent
from botrt.handle._internal import LANE, Lane

log = logging.getLogger("botrt.host")

_IDLE: Any = object()  # `IntakeState.lanes` has no entry: the conversation has no lane running


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

    handle: Callable[[Event], Awaitable[None]]
    max_queue: int
    max_pending: int
    queue: deque[Event] = field(default_factory=deque)
    putters: deque[tuple[asyncio.Future[None], Event]] = field(default_factory=deque)
    getter: asyncio.Future[None] | None = None
    slot_waiter: asyncio.Future[None] | None = None
    running: int = 0
    serving: bool = False  # a worker runs: a sender may hand an event to its lane itself
    closed: bool = False
    # A lane per busy conversation: its backlog (None while it has none).
    lanes: dict[Hashable, deque[Event] | None] = field(default_factory=dict)
    lane_tasks: set[asyncio.Task[None]] = field(default_factory=set)
    lane_context: contextvars.Context = field(default_factory=contextvars.Context)
    drained: anyio.Event = field(default_factory=anyio.Event)
    # Lanes whose run waits (or waited) in ask(): their tasks end with the run.
    detached: set[_IntakeLane] = field(default_factory=set)
    stopping: bool = False  # the worker ends detached runs: a new ask ends at once

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

    def start(self, event: Event) -> None:
        """Run `event` (which holds a slot) in its conversation's lane.

        One lane per conversation: its events run in arrival order, so replies
        keep their order; conversations run concurrently.
        """
        key = lane_key(event)
        lanes = self.lanes
        backlog = lanes.get(key, _IDLE)
        if backlog is _IDLE:
            lanes[key] = None
            # The task leaves `lane_tasks` itself when it ends (a done callback
            # would cost a loop callback per event).
            task = asyncio.get_running_loop().create_task(
                self._run_lane(key, event), context=self.lane_context.copy()
            )
            self.lane_tasks.add(task)
        elif backlog is None:
            lanes[key] = deque((event,))
        else:
            backlog.append(event)  # type: ignore[union-attr]

    def release(self) -> None:
        """An event finished: hand its slot to the worker's held event, or give it back."""
        waiter = self.slot_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        else:
            self.running -= 1

    async def _run_lane(self, key: Hashable, event: Event) -> None:
        lane = _IntakeLane(self, key)
        _enter_lane(lane)  # once per lane task: the task runs in a context of its own
        lanes = self.lanes
        handle = self.handle
        try:
            while True:
                try:
                    await handle(event)
                except Exception:
                    log.exception("event %r could not be handled", event)
                finally:
                    if not lane.detached:
                        self.release()
                if lane.detached:
                    return  # its slot and its backlog were handed over when it detached
                backlog = lanes[key]
                if not backlog:
                    return
                event = backlog.popleft()
        finally:
            if lane.detached:
                lane.finished()  # the run it detached ended: an answer's lane waits for that
            else:
                backlog = lanes.pop(key)
                for _ in backlog or ():  # cancelled at shutdown: the waiting events give back slots
                    self.release()
            self.lane_tasks.discard(lane.task)
            # The task's context holds the lane: a lane that kept its task would make a
            # cycle per event, left for the garbage collector.
            lane.task = None  # type: ignore[assignment]

    def statistics(self) -> IntakeStatistics:
        """The intake's counts now."""
        return IntakeStatistics(
            queued=len(self.queue),
            waiting_senders=sum(1 for w, _ in self.putters if not w.done()),
            running=self.running,
            lanes=len(self.lanes),
            closed=self.closed,
        )


class _IntakeLane(Lane):
    """A lane task of the intake, as a run waiting in `ask()` detaches from it."""

    __slots__ = ("key", "state", "task")

    def __init__(self, state: IntakeState, key: Hashable) -> None:
        super().__init__()
        self.state = state
        self.key = key
        self.task: asyncio.Task[None] = _current_task()  # type: ignore[assignment]

    def release(self) -> None:
        """Give back the slot, and the backlog to a fresh lane task (or free the lane)."""
        state = self.state
        key = self.key
        state.detached.add(self)
        state.release()
        backlog = state.lanes[key]
        if not backlog:
            del state.lanes[key]  # the chat's next event starts a lane of its own
            return
        event = backlog.popleft()
        task = asyncio.get_running_loop().create_task(
            state._run_lane(key, event), context=state.lane_context.copy()
        )
        state.lane_tasks.add(task)

    def finished(self) -> None:
        """The detached run ended: its task ends now."""
        self.state.detached.discard(self)
        super().finished()

    def stopping(self) -> bool:
        """Whether the intake ends detached runs now (a stop)."""
        return self.state.stopping


_enter_lane = LANE.set  # bound once: called for every lane task
_current_task = asyncio.current_task


class IntakeSender:
    """The sending end: queue events, wait while the queue is full, close."""

    __slots__ = ("_state",)

    def __init__(self, state: IntakeState) -> None:
        self._state = state

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
            state.start(event)
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
        return key in state.lanes or any(lane_key(e) == key for e in state.queue)

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
        state.lane_context = contextvars.copy_context()
        state.serving = True
        try:
            await self._take_all(state)
            while state.lane_tasks:
                attached = state.lane_tasks - {lane.task for lane in state.detached}
                if attached:
                    await asyncio.wait(attached)
                else:
                    # Only runs waiting for an answer are left: no answer can come now.
                    state.stopping = True
                    for lane in list(state.detached):
                        lane.end()
                    await asyncio.wait(set(state.lane_tasks))
                # A task cancelled before it started never ran its `finally`.
                state.lane_tasks -= {t for t in state.lane_tasks if t.done()}
        finally:
            state.serving = False
        state.drained.set()

    @staticmethod
    async def _take_all(state: IntakeState) -> None:
        loop = asyncio.get_running_loop()
        queue = state.queue
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
            state.start(event)

    async def wait_drained(self) -> None:
        """Return once `run` has handled every event and ended."""
        await self._state.drained.wait()

    async def cancel_lanes(self) -> None:
        """Cancel the lanes still running (they are plain asyncio tasks) and wait for them."""
        state = self._state
        tasks = set(state.lane_tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        state.lane_tasks.clear()


def open_intake(
    handle: Callable[[Event], Awaitable[None]], *, max_queue: int, max_pending: int
) -> tuple[IntakeSender, IntakeWorker]:
    """An intake that runs `handle` for each event; its two ends share one state.

    At most `max_queue` events wait (then `IntakeSender.send` waits) and at
    most `max_pending` are taken for handling at once.
    """
    state = IntakeState(handle, max_queue, max_pending)
    return IntakeSender(state), IntakeWorker(state)


def lane_key(event: Event) -> Hashable:
    """The conversation `event` belongs to: its events take turns in one lane."""
    peer = getattr(event, "peer_id", None)
    if peer is None:
        if isinstance(event, ScheduleEvent):
            return ("schedule", id(event.target))  # a schedule's runs take turns
        return ("event", id(event))
    return (event.bot, peer)
