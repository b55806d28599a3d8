"""The intake's lanes: one task per busy conversation, and the runs that detach from them.

An event that holds a slot of the intake (`botrt.host._intake`) runs in its
conversation's lane: a conversation's events run one at a time in arrival
order, so replies keep their order; conversations run concurrently. A lane is
a plain asyncio task that takes its conversation's backlog until it is empty;
no loop callback is scheduled per event.

A run waiting in `ask()` detaches from its lane (`_IntakeLane.release`): it
gives its slot back and its lane's backlog to a fresh lane task, so its chat
and the host go on. The lane task drives its event's handling itself
(`_IntakeLane` is what it awaits), so the waiting run is *parked*: its
coroutine is set aside and the task ends; the answer's lane resumes it. At a
stop, once every event still attached is done, the waiting runs are told to
end (`join`); a hard stop closes them (`cancel`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Hashable
from typing import Any

from botrt.adapter import Event, ScheduleEvent
from botrt.handle._internal import LANE, Dialogues, Lane, Waiter

log = logging.getLogger("botrt.host")

_IDLE: Any = object()  # `Lanes.backlogs` has no entry: the conversation has no lane running
_NONE: Any = object()  # `_IntakeLane.pending`: nothing to send in first


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
        self.detached: set[_IntakeLane] = set()
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
        lane = _IntakeLane(self, key, context)
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

    def parked(self) -> list[_IntakeLane]:
        """The lanes whose run is parked in a waiting ask (no task runs it)."""
        return [
            lane
            for dialogues in self.dialogues
            for waiter in list(dialogues.waiting.values())
            if isinstance(lane := waiter.lane, _IntakeLane)
            and lane.lanes is self
            and lane.task is None
            and lane.coro is not None
        ]


class _IntakeLane(Lane):
    """A lane task of the intake, and the driver of the runs of its events.

    Awaiting the lane runs its `coro` (an event's handling) as the task
    would, passing every suspension up to the task; a run that waits in
    `ask()` yields its `Waiter` instead, and the lane sets the coroutine
    aside (*parks* it): the await returns True, the task goes on (or ends),
    and the run holds no task while it waits. The answer's lane awaits this
    lane again (`resume`), which runs the coroutine on its own `context`.
    """

    __slots__ = ("context", "coro", "driving", "key", "lanes", "outside", "pending", "task")

    def __init__(self, lanes: Lanes, key: Hashable, context: contextvars.Context) -> None:
        super().__init__()
        self.lanes = lanes
        self.key = key
        self.context = context  # the lane task's: a parked run resumes in it
        self.task: asyncio.Task[Any] | None = _current_task()
        self.coro: Coroutine[Any, Any, Any] | None = None
        self.driving = False  # inside a step of `coro`: an ask there can park
        self.outside = False  # driven from a task of another context (an answer's lane)
        self.pending: Any = _NONE  # what a resume sends in first

    # -- the driver: what `await lane` runs -----------------------------------------

    def __await__(self) -> Generator[Any, Any, bool]:
        return self  # type: ignore[return-value]

    def __next__(self) -> Any:
        # `send(None)` written out: the task's every step of every event comes here.
        if self.pending is not _NONE:
            return self.send(None)
        coro = self.coro
        self.driving = True
        try:
            yielded = (
                self.context.run(coro.send, None)  # type: ignore[union-attr]
                if self.outside
                else coro.send(None)  # type: ignore[union-attr]
            )
        except BaseException:
            self._ended()
            raise
        finally:
            self.driving = False
        if yielded.__class__ is Waiter:
            raise StopIteration(True)
        return yielded

    def send(self, value: Any) -> Any:
        """One step of the run (the task's wake-up); StopIteration when it ends or parks."""
        pending = self.pending
        if pending is not _NONE:
            self.pending = _NONE
            if isinstance(pending, BaseException):
                return self.throw(pending)
            value = pending
        coro = self.coro
        self.driving = True
        try:
            yielded = (
                self.context.run(coro.send, value)  # type: ignore[union-attr]
                if self.outside
                else coro.send(value)  # type: ignore[union-attr]
            )
        except BaseException:
            self._ended()
            raise
        finally:
            self.driving = False
        if yielded.__class__ is Waiter:
            raise StopIteration(True)  # parked: the coroutine waits here for its answer
        return yielded

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        """As `send`, raising in the run (a cancellation, an ask's end)."""
        exc = typ if val is None else val
        coro = self.coro
        self.driving = True
        try:
            yielded = (
                self.context.run(coro.throw, exc)  # type: ignore[union-attr]
                if self.outside
                else coro.throw(exc)  # type: ignore[union-attr]
            )
        except BaseException:
            self._ended()
            raise
        finally:
            self.driving = False
        if yielded.__class__ is Waiter:
            raise StopIteration(True)
        return yielded

    def close(self) -> None:
        """Close the run (its frames' ``finally`` run), parked or not."""
        coro, self.coro = self.coro, None
        if coro is not None:
            if self.outside or self.task is None:
                self.context.run(coro.close)
            else:
                coro.close()
            self._ended()

    def _ended(self) -> None:
        self.coro = None
        if self.task is None:  # a resumed run ended (the lane task is gone)
            self.finished()
            self.context = None  # type: ignore[assignment]

    # -- the lane -------------------------------------------------------------------

    def parkable(self) -> bool:
        """Whether the run asking now is this lane's run, inside one of its steps."""
        return self.driving

    def resume(self, answer: Any) -> _IntakeLane:
        """Run the parked run on with `answer`, in the awaiting task (an answer's lane)."""
        self.pending = answer
        self.outside = True
        return self

    def resume_later(self, exc: BaseException) -> None:
        """Run the parked run on with `exc` in a task of the lanes (a timeout, a stop)."""
        self.pending = exc
        self.outside = False
        task = asyncio.get_running_loop().create_task(self._resumed(), context=self.context)
        self.lanes.tasks.add(task)

    async def _resumed(self) -> None:
        try:
            await self
        except Exception:
            log.exception("a conversation could not be ended")
        finally:
            self.lanes.tasks.discard(_current_task())  # type: ignore[arg-type]

    def release(self) -> None:
        """Give back the slot, and the backlog to a fresh lane task (or free the lane)."""
        lanes = self.lanes
        waiter = self.waiter
        if waiter is not None and waiter.future is None:
            # Parked: found through its waiter at a stop (`Lanes.parked`), not kept in a
            # set (a set entry is a twentieth of what a waiting run costs).
            lanes.dialogues.add(waiter.dialogues)
        else:
            lanes.detached.add(self)
        lanes.release()
        lanes.hand_over(self.key)
        self.key = None  # a waiting run keeps no key it no longer needs

    def finished(self) -> None:
        """The detached run ended: its task ends now."""
        self.lanes.detached.discard(self)
        super().finished()

    def stopping(self) -> bool:
        """Whether the intake ends detached runs now (a stop)."""
        return self.lanes.stopping


_enter_lane = LANE.set  # bound once: called for every lane task
_current_task = asyncio.current_task


def lane_key(event: Event) -> Hashable:
    """The conversation `event` belongs to: its events take turns in one lane."""
    peer = getattr(event, "peer_id", None)
    if peer is None:
        if isinstance(event, ScheduleEvent):
            return ("schedule", id(event.target))  # a schedule's runs take turns
        return ("event", id(event))
    return (event.bot, peer)
