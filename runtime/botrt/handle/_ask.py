"""`ask()`: a flow run asks its user a question and waits for the answer, in memory.

`ask()` is a generator-based coroutine: awaited, it sends the prompt and
waits as a `Waiter`. How the waiting asks are kept and answered is
`_waiters`; their timeouts, `_timeouts`; the exceptions of an ask that ends
without an answer, `_ended`.
"""

from __future__ import annotations

from collections.abc import Generator
from types import CoroutineType, coroutine
from typing import TYPE_CHECKING, Any

from botrt.adapter import TextEvent
from botrt.handle._ended import ConversationCancelled, ConversationEnded, ConversationTimeout
from botrt.handle._lane import LANE
from botrt.handle._run import CURRENT, FlowContextError, FlowRun, current_run
from botrt.handle._timeouts import DialogueClock
from botrt.handle._waiters import Dialogues, DialogueSettings, Key

if TYPE_CHECKING:
    import asyncio

    from botrt.handle._lane import Lane

__all__ = [
    "ConversationCancelled",
    "ConversationEnded",
    "ConversationTimeout",
    "DialogueClock",
    "DialogueSettings",
    "Dialogues",
    "Key",
    "Waiter",
    "ask",
    "dialogues_of",
]

_CURRENT = CURRENT.get  # bound once: read for every ask
_lane = LANE.get
_new = object.__new__


def dialogues_of(run: FlowRun, what: str) -> Dialogues:
    """The `Dialogues` of the dispatcher running `run`.

    :raises FlowContextError: the run has no dispatcher's services.
    """
    services = run.services
    dialogues = services.dialogues if services is not None else None
    if dialogues is None:
        raise FlowContextError(f"{what} needs a flow run started by a dispatcher (a host)")
    return dialogues


# `timeout` is SPEC §8's name, on the host's clock.
@coroutine
def ask(
    prompt: str | None = None,
    *,
    timeout: float | None = None,
    keyboard: Any = None,
) -> Generator[Any, Any, TextEvent]:
    """Send `prompt` (if given) and wait for the user's next text message in this chat.

    Works anywhere on the call chain of a flow run started by a text event
    (in a node, a function it calls, a `flow_to` sub-flow, a node that
    `rewind()`s). The answer is the same user's next text message in the
    same chat on the same bot, and it goes to this `ask` only, not to any
    flow. An answer with no text (only an attachment) is returned too, with
    ``text == ""``: the handler decides. While it waits the run holds no slot
    of the host, no turn of the chat (others in the chat are served) and no
    reload (a reload does not wait for it; the run goes on to its end on the
    version that started it).

    `timeout` is in seconds (default ``[conversations] timeout``); `keyboard`
    (a ``botrt.adapter.Keyboard``) goes with the prompt. It is a
    generator-based coroutine (the answer reaches it with no exception raised
    in Python): ``await`` it; a task for it needs a coroutine around it.

    :raises ConversationTimeout: no answer within `timeout` seconds.
    :raises ConversationCancelled: the user sent a ``[conversations] cancel`` word.
    :raises ConversationEnded: the host stopped while waiting (both above
        are subclasses); left uncaught, the user is told and the run ends quietly.
    :raises FlowContextError: outside a flow run started by a text event, or
        when an ask already waits for this user in this chat.
    """
    lane = _lane(None)
    if lane is not None and (latest := lane.latest) is not None:
        # The run asked before and an answer resumed it (a dialogue's usual step):
        # its event, its dialogues and the conversation's latest message are known.
        dialogues = lane.dialogues
    else:
        dialogues, latest = _start(lane)
    if prompt is not None:
        reply = (
            latest.reply(prompt) if keyboard is None else latest.reply(prompt, keyboard=keyboard)
        )
        yield from reply if reply.__class__ is CoroutineType else reply.__await__()
        reply = None  # a waiting ask must not keep the sent reply's spent coroutine
    # No `__init__` call: a waiter is made at every step of a dialogue.
    waiter = _new(Waiter)
    waiter.timeout = timeout
    future = dialogues.wait(waiter, latest, lane)
    if future is None:
        # Parked: the lane sets the run aside on seeing the waiter, and the answer
        # comes back as what this yield returns (or an exception raised here).
        try:
            return (yield waiter)
        except BaseException:
            dialogues.take(waiter)  # closed while waiting: it waits no more
            waiter.resumed()
            raise
    try:
        return (yield from future)
    finally:
        dialogues.take(waiter)  # cancelled while waiting
        waiter.resumed()


def _start(lane: Lane | None) -> tuple[Dialogues, TextEvent]:
    """Where the run's asks wait, and the message to reply to: the run's first ask."""
    run = _CURRENT(None)
    if run is None:
        run = current_run("ask()")  # raises
    event = run.event
    if not isinstance(event, TextEvent):
        raise FlowContextError(
            f"ask() works only in a flow run started by a text message; this run handles "
            f"{type(event).__name__}, which has no user and chat to ask"
        )
    try:
        dialogues = run.services.dialogues
    except AttributeError:  # no services
        dialogues = None
    if dialogues is None:
        dialogues = dialogues_of(run, "ask()")  # raises
    # The conversation's latest message: the same user in the same chat as `event`.
    latest = lane.latest if lane is not None and lane.latest is not None else event
    return dialogues, latest


class Waiter:
    """One waiting `ask()`: whose answer it waits for, until when, and where.

    It is in `Dialogues.waiting` while it waits. With a `future`, the run
    waits on it in its own task. Without one, the run is *parked*: the ask
    yields this waiter to the lane's driver, which sets the run's coroutine
    aside; the answer comes back through the coroutine's ``send`` (the
    await's value) or ``throw``.
    """

    __slots__ = ("deadline", "dialogues", "future", "key", "lane", "latest", "timeout")

    # Made by `ask()` with `timeout` as asked; `Dialogues.wait` sets the rest, and
    # `timeout` in seconds. `latest` is the message the end notice answers.
    timeout: float | None
    latest: TextEvent
    dialogues: Dialogues
    key: Key
    future: asyncio.Future[TextEvent] | None
    lane: Lane | None
    deadline: int | None  # nanoseconds on the clock of `Deadlines`

    def resumed(self) -> None:
        """The run no longer waits here: its lane forgets this waiter."""
        lane = self.lane
        if lane is not None and lane.waiter is self:
            lane.waiter = None

    def stop(self) -> None:
        """End the wait with `ConversationEnded` (the host stops); no-op once resolved."""
        if self.dialogues.take(self):
            self.fail(
                ConversationEnded("the bot stopped while waiting for an answer", event=self.latest)
            )

    def fail(self, exc: ConversationEnded) -> None:
        """End the wait (already taken out of the waiting asks) with `exc`."""
        if self.future is not None:
            self.future.set_exception(exc)
        else:
            self.lane.resume_later(exc)  # type: ignore[union-attr]
