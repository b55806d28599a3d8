"""The intake's lanes: one task per busy conversation, and the runs that detach from them.

An event that holds a slot of the intake (`botrt.host._intake`) runs in its
conversation's lane: a conversation's events run one at a time in arrival
order, so replies keep their order; conversations run concurrently. A lane is
a plain asyncio task that takes its conversation's backlog until it is empty;
no loop callback is scheduled per event.

A run waiting in `ask()` detaches from its lane (`IntakeLane.release`): it
gives its slot back and its lane's backlog to a fresh lane task, so its chat
and the host go on. The lane task drives its event's handling itself
(`IntakeLane` is what it awaits), so the waiting run is *parked*: its
coroutine is set aside and the task ends; the answer's lane resumes it. At a
stop, once every event still attached is done, the waiting runs are told to
end (`join`); a hard stop closes them (`cancel`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from botrt.adapter import Event, ScheduleEvent
from botrt.handle._internal import LANE, Dialogues
from botrt.host._intake_lane import IntakeLane

log = logging.getLogger("botrt.host")

_IDLE: Any = object()  # `Lanes.backlogs` has no entry: the conversation has no lane running


class Lanes:
    """The lanes of one intake: which conversations are busy, their backlogs, their tasks.

    Attributes:
        handle: what a lane runs for each event.
        release: gives an event's slot back to the intake once the event is done.
        backlogs: a lane per busy conversation: its backlog (None while it has none).
        tasks: the lane tasks running (a detached run's included).
        context: what lane tasks run in a copy of (the worker sets the serving context).
        detached: lanes whose run waits (or waited) in ask() in its task: it ends with the run.
        dialogues: where the parked runs' waiters are (`parked`).
        stopping: `join` ends detached runs: a run that starts to wait ends at once.
    """

    __slots__ = (
        "backlogs",
        "context",
        "detached",
        "dialogues",
        "handle",
        "release",
        "stopping",
        "tasks",
    )

    def __init__(
        self, handle: Callable[[Event], Awaitable[None]], release: Callable[[], None]
    ) -> None:
        self.handle = handle
        self.release = release
        self.backlogs: dict[Hashable, deque[Event] | None] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.context = contextvars.Context()
        self.detached: set[IntakeLane] = set()
        self.dialogues: set[Dialogues] = set()
        self.stopping = False

    def start(self, event: Event) -> None:
        """Run `event` (which holds a slot) in its conversation's lane."""
        key = lane_key(event)
        backlogs = self.backlogs
        backlog = backlogs.get(key, _IDLE)
        if backlog is _IDLE:
            backlogs[key] = None
            self._spawn(key, event)
        elif backlog is None:
            backlogs[key] = deque((event,))
        else:
            backlog.append(event)  # type: ignore[union-attr]

    def _spawn(self, key: Hashable, event: Event) -> None:
        # The task leaves `tasks` itself when it ends (a done callback would
        # cost a loop callback per event).
        context = self.context.copy()
        task = asyncio.get_running_loop().create_task(
            self._run(key, event, context), context=context
        )
        self.tasks.add(task)

    def hand_over(self, key: Hashable) -> None:
        """The lane of `key` detached: a fresh task takes its backlog (or the lane is freed)."""
        backlog = self.backlogs[key]
        if not backlog:
            del self.backlogs[key]  # the chat's next event starts a lane of its own
            return
        self._spawn(key, backlog.popleft())

    async def _run(self, key: Hashable, event: Event, context: contextvars.Context) -> None:
        lane = IntakeLane(self, key, context)
        _enter_lane(lane)  # once per lane task: the task runs in a context of its own
        backlogs = self.backlogs
        handle = self.handle
        release = self.release
        parked = False
        try:
            while True:
                lane.coro = handle(event)
                try:
                    parked = await lane  # the lane drives the event's run: it may park it
                except Exception:
                    log.exception("event %r could not be handled", event)
                finally:
                    if not lane.detached:
                        release()
                if lane.detached:
                    return  # its slot and its backlog were handed over when it detached
                backlog = backlogs[key]
                if not backlog:
                    return
                event = backlog.popleft()
        finally:
            if lane.detached:
                if not parked:
                    lane.finished()  # the run it detached ended: an answer's lane waits for that
            else:
                backlog = backlogs.pop(key)
                for _ in backlog or ():  # cancelled at shutdown: the waiting events give back slots
                    release()
                # The context holds the lane: a lane that kept it would make a cycle per
                # event, left for the garbage collector (a parked run keeps both).
                lane.context = None  # type: ignore[assignment]
            self.tasks.discard(lane.task)  # type: ignore[arg-type]
            lane.task = None

    def busy(self, key: Hashable) -> bool:
        """Whether the conversation `key` has a lane running."""
        return key in self.backlogs

    async def join(self) -> None:
        """Wait for every lane task; once only runs waiting for an answer are left, end them."""
        tasks = self.tasks
        ended = False
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
        """Cancel the lane tasks still running (plain asyncio tasks) and close the parked runs."""
        tasks = set(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self.tasks.clear()
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


def lane_key(event: Event) -> Hashable:
    """The conversation `event` belongs to: its events take turns in one lane."""
    peer = getattr(event, "peer_id", None)
    if peer is None:
        if isinstance(event, ScheduleEvent):
            return ("schedule", id(event.target))  # a schedule's runs take turns
        return ("event", id(event))
    return (event.bot, peer)
