"""A lane of the intake, and the driver that parks a run waiting in `ask()`.

`Lanes` (`_lanes.py`) runs busy conversations' lanes in worker tasks; a
worker keeps one `IntakeLane` (a fresh one after a run detached from it) and
awaits it for every event: the lane runs the event's handling on the lane's
own context, and sets a run that waits for an answer aside.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Coroutine, Generator, Hashable
from typing import TYPE_CHECKING, Any

from botrt.handle._internal import DONE, Lane, Waiter

if TYPE_CHECKING:
    from botrt.host._lanes import Lanes

log = logging.getLogger("botrt.host")

_NONE: Any = object()  # `IntakeLane.pending`: nothing to do first
_current_task = asyncio.current_task


class _Yield:
    """`IntakeLane.pending`: what a resumed run yielded in its first step (`resume`)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class IntakeLane(Lane):
    """A lane of the intake, and the driver of the runs of its events.

    Awaiting the lane runs its `coro` (an event's handling) on the lane's
    `context`, passing every suspension up to the worker task; a run that
    waits in `ask()` yields its `Waiter` instead, and the lane sets the
    coroutine aside (*parks* it): the await returns True, the worker goes
    on, and the run holds no task while it waits. The answer's lane awaits
    this lane again (`resume`), which runs the coroutine on its `context`.
    """

    __slots__ = (
        "context",
        "coro",
        "event",
        "key",
        "lanes",
        "outside",
        "pending",
        "started",
        "task",
    )

    def __init__(self, lanes: Lanes, key: Hashable, context: contextvars.Context) -> None:
        super().__init__()
        self.lanes = lanes
        self.key = key
        self.context = context  # the lane visit's: a parked run resumes in it
        self.task: asyncio.Task[Any] | None = _current_task()
        self.coro: Coroutine[Any, Any, Any] | None = None
        # Driven from a task of another context: a worker, or an answer's lane.
        self.outside = True
        # What the first step of a resumed run does: `_Yield` (pass it up) or an exception
        # (raise it in the run); `_NONE`: nothing.
        self.pending: Any = _NONE
        # The event whose handling `coro` is, when the lanes run the handling's tail
        # (`Lanes.end`) as the run ends, and when it started (`perf_counter`); None:
        # `coro` is the whole handling (`Lanes.handle`).
        self.event: Any = None
        self.started = 0.0

    # -- the driver: what `await lane` runs -----------------------------------------

    def __await__(self) -> Generator[Any, Any, bool]:
        return self  # type: ignore[return-value]

    def __next__(self) -> Any:
        # `send(None)` written out: the task's every step of every event comes here.
        if self.pending is _NONE:
            coro = self.coro
            self.driving = True
            try:
                yielded = (
                    self.context.run(coro.send, None)  # type: ignore[union-attr]
                    if self.outside
                    else coro.send(None)  # type: ignore[union-attr]
                )
            except BaseException as exc:
                self.coro = None
                if self.task is None:
                    self._ended(exc)  # a run resumed by `resume_later` ended
                elif self.event is not None:  # `_ended`, inline for the usual end of an event
                    self.lanes.end(self, exc.__class__ is StopIteration)
                raise
            finally:
                self.driving = False
            if yielded.__class__ is Waiter:
                raise StopIteration(True)
            return yielded
        # The first step of a run resumed by an answer (what `resume`'s step yielded
        # goes up) or ended by `resume_later` (the exception goes in).
        value, self.pending = self.pending, _NONE
        if value.__class__ is _Yield:
            return value.value
        return self.throw(value)

    def send(self, value: Any) -> Any:
        """One step of the run (the task's wake-up); StopIteration when it ends or parks.

        Never the first step (that is `__next__`'s), so nothing is `pending` here.
        """
        coro = self.coro
        self.driving = True
        try:
            yielded = (
                self.context.run(coro.send, value)  # type: ignore[union-attr]
                if self.outside
                else coro.send(value)  # type: ignore[union-attr]
            )
        except BaseException as exc:
            self._ended(exc)
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
        except BaseException as exc:
            self._ended(exc)
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
            self._ended(None)

    def _ended(self, exc: BaseException | None) -> None:
        """The run ended with `exc` (StopIteration: it returned; None: it was closed)."""
        self.coro = None
        try:
            if self.event is not None:
                self.lanes.end(self, exc.__class__ is StopIteration)
        finally:
            if self.task is None:  # a resumed run ended (the lane task is gone)
                self.finished()
                self.context = None  # type: ignore[assignment]

    # -- the lane -------------------------------------------------------------------

    def resume(self, answer: Any) -> Awaitable[None]:
        """Run the parked run on with `answer` now, in the caller's task (an answer's lane).

        The run's first step is taken here: it usually asks again (parked
        again) or ends at once, and then there is nothing left to await; a
        run that suspends (a reply that waits for the network) is driven on
        by the awaiting task, which awaits this lane.
        """
        coro = self.coro
        self.driving = True
        try:
            if isinstance(answer, BaseException):
                yielded = self.context.run(coro.throw, answer)  # type: ignore[union-attr]
            else:
                yielded = self.context.run(coro.send, answer)  # type: ignore[union-attr]
        except BaseException as exc:
            self._ended(exc)
            if exc.__class__ is StopIteration:
                return DONE
            raise
        finally:
            self.driving = False
        if yielded.__class__ is Waiter:
            return DONE  # parked again: no frame of the answer's awaits it
        self.outside = True
        self.pending = _Yield(yielded)  # the awaiting task yields it first
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
        """Give back the slot, and the backlog to a worker (or free the lane)."""
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
        """The detached run ended: its worker goes on now."""
        self.lanes.detached.discard(self)
        super().finished()
