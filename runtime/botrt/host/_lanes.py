"""The intake's lanes: per busy conversation a lane, run by a pool of worker tasks.

An event that holds a slot of the intake (`botrt.host._intake`) runs in its
conversation's lane: a conversation's events run one at a time in arrival
order, so replies keep their order; conversations run concurrently. A lane
whose conversation was idle is *ready*; a worker (a long-lived asyncio task)
takes it and runs its backlog until it is empty, then takes the next ready
lane or waits for one. An idle worker is woken by a future's result, so an
event costs no task; workers are started as lanes need them (at most one per
running event, so `max_pending` bounds them) and at most a few wait idle.

A run waiting in `ask()` detaches from its lane (`IntakeLane.release`): it
gives its slot back and its lane's backlog to a worker, so its chat and the
host go on. The worker drives its event's handling itself (`IntakeLane` is
what it awaits), so the waiting run is *parked*: its coroutine is set aside
and the worker goes on; the answer's lane resumes it. At a stop, once every
event still attached is done, the waiting runs are told to end (`join`); a
hard stop closes them (`cancel`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from contextlib import suppress
from typing import Any

from botrt.adapter import Event, ScheduleEvent
from botrt.handle._internal import LANE, Dialogues
from botrt.host._intake_lane import IntakeLane

log = logging.getLogger("botrt.host")

_IDLE: Any = object()  # `Lanes.backlogs` has no entry: the conversation has no lane running
_IDLE_WORKERS = 4  # workers kept waiting for lanes; more leave (a burst's workers end)
_current_task = asyncio.current_task


class Lanes:
    """The lanes of one intake: which conversations are busy, their backlogs, their workers.

    Attributes:
        handle: what a lane runs for each event.
        begin: when set, what a lane runs for each event instead: it starts the
            event's handling (and gives the lane its `event`, `epoch` and
            `started`) and returns what is left to drive (None: nothing); the
            lane ends the handling (`end`) as that ends. A run parked in
            `ask()` then keeps no frame of the handling's own.
        end: ``end(lane, returned)``: the handling's tail, once what `begin`
            returned ends (`returned`: without an exception).
        release: gives an event's slot back to the intake once the event is done.
        backlogs: a lane per busy conversation: its backlog (None while it has none).
        tasks: the workers, and the short tasks that end parked runs (`resume_later`).
        context: what lanes run in a copy of (the intake's worker sets the serving context).
        ready: lanes waiting for a worker: their conversation and first event.
        idle: the futures of the workers waiting for a ready lane.
        closing: workers leave once no lane is ready (a stop).
        detached: lanes whose run waits (or waited) in ask() in its worker: it ends with the run.
        dialogues: where the parked runs' waiters are (`parked`).
        stopping: `join` ends detached runs: a run that starts to wait ends at once.
    """

    __slots__ = (
        "backlogs",
        "begin",
        "closing",
        "context",
        "detached",
        "dialogues",
        "end",
        "handle",
        "idle",
        "ready",
        "release",
        "stopping",
        "tasks",
    )

    def __init__(
        self, handle: Callable[[Event], Awaitable[None]], release: Callable[[], None]
    ) -> None:
        self.handle = handle
        self.begin: Callable[[Event, IntakeLane], Coroutine[Any, Any, Any] | None] | None = None
        self.end: Callable[[IntakeLane, bool], None] = _no_end
        self.release = release
        self.backlogs: dict[Hashable, deque[Event] | None] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.context = contextvars.Context()
        self.detached: set[IntakeLane] = set()
        self.dialogues: set[Dialogues] = set()
        self.stopping = False
        self.closing = False
        self.ready: deque[tuple[Hashable, Event]] = deque()
        self.idle: list[asyncio.Future[None]] = []

    def start(self, event: Event) -> None:
        """Run `event` (which holds a slot) in its conversation's lane."""
        key = lane_key(event)
        backlogs = self.backlogs
        backlog = backlogs.get(key, _IDLE)
        if backlog is _IDLE:
            backlogs[key] = None
            self._ready(key, event)
        elif backlog is None:
            backlogs[key] = deque((event,))
        else:
            backlog.append(event)  # type: ignore[union-attr]

    def _ready(self, key: Hashable, event: Event) -> None:
        # The lane waits for a worker: an idle one is woken (a future's result,
        # cheaper than a task per event), or one more is started.
        self.ready.append((key, event))
        idle = self.idle
        if idle:
            idle.pop().set_result(None)
        else:
            task = asyncio.get_running_loop().create_task(self._work(), context=self.context.copy())
            self.tasks.add(task)

    def hand_over(self, key: Hashable) -> None:
        """The lane of `key` detached: a worker takes its backlog (or the lane is freed)."""
        backlog = self.backlogs[key]
        if not backlog:
            del self.backlogs[key]  # the chat's next event starts a lane of its own
            return
        self._ready(key, backlog.popleft())

    async def _work(self) -> None:
        # A worker: runs ready lanes one after another, each until its backlog is
        # empty; waits when none is ready; leaves when enough others wait (or at a stop).
        # One coroutine for all of it: a lane visit costs no coroutine of its own.
        ready = self.ready
        idle = self.idle
        backlogs = self.backlogs
        handle = self.handle
        release = self.release
        loop = asyncio.get_running_loop()
        lane: IntakeLane | None = None
        try:
            while True:
                if not ready:
                    if self.closing or len(idle) >= _IDLE_WORKERS:
                        return
                    # Wait in `idle` until an event wakes this worker (inline: a
                    # coroutine of its own would be made for every event).
                    waiter = loop.create_future()
                    idle.append(waiter)
                    try:
                        await waiter
                    except BaseException:
                        with suppress(ValueError):
                            idle.remove(waiter)
                        raise
                    continue
                key, event = ready.popleft()
                # Each lane visit runs in a fresh copy of the serving context (a parked
                # run keeps its own); the lane object is reused until a run detaches.
                context = self.context.copy()
                if lane is None or lane.detached:
                    lane = IntakeLane(self, key, context)
                else:
                    lane.key = key
                    lane.context = context
                context.run(_enter_lane, lane)
                parked = False
                try:
                    while True:  # the conversation's events until its backlog is empty
                        try:
                            begin = self.begin
                            if begin is None:
                                lane.coro = handle(event)
                                parked = await lane  # the lane drives the run: it may park it
                            elif (coro := begin(event, lane)) is not None:
                                lane.coro = coro
                                parked = await lane
                            else:
                                parked = False  # handled at once (an answer's usual case)
                        except Exception:
                            log.exception("event %r could not be handled", event)
                        finally:
                            if not lane.detached:
                                release()
                        if lane.detached:
                            break  # its slot and backlog were handed over when it detached
                        backlog = backlogs[key]
                        if not backlog:
                            break
                        event = backlog.popleft()
                finally:
                    if lane.detached:
                        lane.task = None  # the run lives on without the worker
                        if not parked:
                            lane.finished()  # the run ended: an answer's lane waits for that
                    else:
                        backlog = backlogs.pop(key)
                        for _ in backlog or ():  # cancelled at shutdown: give back slots
                            release()
                        # The context holds the lane: a lane that kept it would make a
                        # cycle, left for the garbage collector (a parked run keeps both).
                        lane.context = None  # type: ignore[assignment]
        finally:
            self.tasks.discard(_current_task())  # type: ignore[arg-type]

    def busy(self, key: Hashable) -> bool:
        """Whether the conversation `key` has a lane running."""
        return key in self.backlogs

    async def join(self) -> None:
        """Wait for the lanes and workers; once only runs waiting for answers are left, end them."""
        tasks = self.tasks
        ended = False
        self.closing = True  # idle workers leave; busy ones once nothing is ready
        idle, self.idle = self.idle, []
        for waiter in idle:
            waiter.set_result(None)
        while True:
            # A task cancelled before it started never ran its `finally`.
            tasks.difference_update([t for t in tasks if t.done()])
            waiting = {lane.task for lane in self.detached if lane.waiter is not None}
            attached = tasks - waiting
            if attached:
                await asyncio.wait(attached)
                continue
            parked = self.parked()
            if ended or not (self.detached or parked):
                return
            # Only runs waiting for an answer are left: no answer can come now.
            self.stopping = ended = True
            for lane in [*self.detached, *parked]:
                lane.end()

    async def cancel(self) -> None:
        """Cancel the workers (plain asyncio tasks) and close the parked runs."""
        tasks = set(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self.tasks.clear()
        ready, self.ready = self.ready, deque()
        for key, _ in ready:  # lanes no worker took: their events give back slots
            for _ in (None, *(self.backlogs.pop(key, None) or ())):
                self.release()
        for lane in [*self.detached, *self.parked()]:
            lane.close()

    def parked(self) -> list[IntakeLane]:
        """The lanes whose run is parked in a waiting ask (no task runs it)."""
        return [
            lane
            for dialogues in self.dialogues
            for waiter in list(dialogues.waiting.values())
            if isinstance(lane := waiter.lane, IntakeLane)
            and lane.lanes is self
            and lane.task is None
            and lane.coro is not None
        ]


_enter_lane = LANE.set  # bound once: called for every lane task


def _no_end(lane: IntakeLane, returned: bool) -> None:
    """`Lanes.end` before a host sets `begin`: no lane has an `event` then."""


def lane_key(event: Event) -> Hashable:
    """The conversation `event` belongs to: its events take turns in one lane."""
    peer = getattr(event, "peer_id", None)
    if peer is None:
        if isinstance(event, ScheduleEvent):
            return ("schedule", id(event.target))  # a schedule's runs take turns
        return ("event", id(event))
    return (event.bot, peer)
