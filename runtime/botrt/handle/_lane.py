"""The lane an event runs in, as a run that waits in `ask()` sees it.

Whatever runs events (the host's intake: one `Lane` per lane task;
`TestHost`: one per message) sets `LANE` once in the task that runs them. An
event holds, while it runs, a slot of the host, its conversation's turn and
its count in a reload's epoch (`epoch`, set by ``Host.handle``). A run that
waits for a user's answer must hold none of them, so `ask()` *detaches* it:
the lane gives them back (`release`, done by the subclass), goes on with the
conversation's next events in a fresh task, and the waiting run lives on in
its own task, which ends when the run does.

The answer is handled by the answer's own lane, and the run resumes on its
behalf until it waits again or ends, so the answer's handling holds a slot,
a turn and an epoch like any event's. A lane that can *park* the run (the
host's intake: it sets `driving` while it runs a step) keeps no task for it:
the run's coroutine is set aside while it waits, and the answer's lane drives
it on (`resume`).
Otherwise the run waits in its own task, and the answer's lane waits
(`step`) until the run waits again or ends.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from botrt.adapter import TextEvent
    from botrt.handle._ask import Waiter
    from botrt.handle._waiters import Dialogues


class Lane:
    """What an event's run holds while it runs, and gives back when it waits for an answer.

    Attributes:
        driving: inside a step of the lane's run, where an `ask()` can park it
            (only a lane that parks runs sets it).
        dialogues: where the run's asks wait (set by its first ask).
        detached: the run this lane was running waits (or waited) in `ask()`:
            the lane no longer runs events; its task ends with the run.
        ending: the runner ended this lane's run's wait (it stops): an ask
            the run makes from now on ends at once.
        epoch: the reload epoch the running event is counted in (None: not counted).
        latest: the conversation's latest message the run has seen (an answer),
            which prompts and the end notice reply to.
        step: what the answer's lane waits on while the run resumes.
        waiter: the `ask()` this lane's run waits in now, if any.
    """

    __slots__ = ("detached", "dialogues", "driving", "ending", "epoch", "latest", "step", "waiter")

    def __init__(self) -> None:
        self.detached = False
        self.dialogues: Dialogues | None = None
        self.driving = False
        self.ending = False
        self.epoch: int | None = None
        self.latest: TextEvent | None = None
        self.step: asyncio.Future[None] | None = None
        self.waiter: Waiter | None = None

    def detach(self) -> bool:
        """The run is about to wait for an answer; True the first time.

        The first time, the lane gives back what it holds (`release`); later
        (the run resumed by an answer waits again), the answer's handling is over.
        """
        if self.detached:
            self.end_step()
            return False
        self.detached = True
        self.release()
        return True

    def release(self) -> None:
        """Give back the slot and the conversation's turn (subclasses: the runner's part)."""

    def finished(self) -> None:
        """The detached run ended: the answer that resumed it (if any) is handled."""
        self.end_step()

    def end_step(self) -> None:
        """Let the lane of the answer the run resumed on go on."""
        step, self.step = self.step, None
        if step is not None and not step.done():
            step.set_result(None)

    def resume(self, answer: TextEvent | BaseException) -> Awaitable[None]:
        """Resume the parked run with `answer` (an exception: raised by its `ask`).

        Runs it in the calling task, on the run's own context, until it waits
        again or ends: the first step at once, the rest (if it suspends) when
        the result is awaited. Only for a lane whose run was parked.
        """
        raise NotImplementedError("this lane does not park runs")

    def resume_later(self, exc: BaseException) -> None:
        """Resume the parked run with `exc` in a task of the runner's (a timeout, a stop)."""
        raise NotImplementedError("this lane does not park runs")

    def end(self) -> None:
        """End the run's wait with `ConversationEnded` (the host stops), if it waits.

        Every ask the run makes after this ends at once (`ending`): the runner
        ends every run that waits, or may wait, when it stops.
        """
        self.ending = True
        waiter = self.waiter
        if waiter is not None:
            waiter.stop()


LANE: ContextVar[Lane] = ContextVar("botrt_lane")
"""The lane of the task running now; set once per lane task, never per event."""
