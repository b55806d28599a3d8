"""`ask()`: a flow run asks its user a question and waits for the answer, in memory.

`ask()` returns a `Waiter`: awaited, it sends the prompt and becomes the
waiting ask. How the waiting asks are kept and answered is `_waiters`; their
timeouts, `_timeouts`; the exceptions of an ask that ends without an answer,
`_ended`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from typing import TYPE_CHECKING, Any

from botrt.adapter import TextEvent
from botrt.handle._ended import ConversationCancelled, ConversationEnded, ConversationTimeout
from botrt.handle._lane import LANE
from botrt.handle._run import CURRENT, FlowContextError, FlowRun, current_run
from botrt.handle._timeouts import DialogueClock
from botrt.handle._waiters import PARKED, Dialogues, DialogueSettings, Key

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
_SENT: Any = object()  # `next`'s default: the prompt's reply is sent


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
def ask(
    prompt: str | None = None,
    *,
    timeout: float | None = None,
    keyboard: Any = None,
) -> Awaitable[TextEvent]:
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
    (a ``botrt.adapter.Keyboard``) goes with the prompt. It returns an
    awaitable, not a coroutine (a waiting ask keeps less memory): ``await``
    it; a task for it needs a coroutine around it.

    :raises ConversationTimeout: no answer within `timeout` seconds.
    :raises ConversationCancelled: the user sent a ``[conversations] cancel`` word.
    :raises ConversationEnded: the host stopped while waiting (both above
        are subclasses); left uncaught, the user is told and the run ends quietly.
    :raises FlowContextError: outside a flow run started by a text event, or
        when an ask already waits for this user in this chat.
    """
    # No `__init__` call: ask() is on every step of a dialogue.
    waiter = _new(Waiter)
    waiter.prompt = prompt
    waiter.timeout = timeout
    waiter.keyboard = keyboard
    waiter.inner = None
    return waiter


class Waiter:
    """One `ask()`: awaited, it sends the prompt, then it is the ask waiting for the answer.

    Written out as the coroutine it stands for (``await reply(prompt)``, then
    wait for the answer), so that a waiting ask keeps this one small object
    instead of a coroutine frame and a record of its wait (one per waiting
    user). It does what a coroutine would: nothing runs until it is awaited,
    every suspension passes through, exceptions are thrown into what it
    awaits.

    Once waiting it is in `Dialogues.waiting`. With a `future`, the run
    waits on it in its own task. Without one, the run is *parked*: the
    waiter yields itself to the lane's driver, which keeps the run's
    coroutine; the answer comes back through the coroutine's ``send`` (the
    await's value) or ``throw``.
    """

    __slots__ = (
        "deadline",
        "dialogues",
        "future",
        "inner",
        "key",
        "keyboard",
        "lane",
        "latest",
        "prompt",
        "timeout",
    )

    # Made by `ask()`, which sets `prompt`, `timeout` (as asked), `keyboard` and `inner`:
    # what it awaits now (None: not started; the prompt's reply; `PARKED`; the wait on
    # `future`). `latest` is the message a suspended prompt answers, then the one the
    # end notice answers. `Dialogues.wait` sets the rest, and `timeout` in seconds.
    prompt: str | None
    timeout: float | None
    keyboard: Any
    inner: Any
    latest: TextEvent
    dialogues: Dialogues
    key: Key
    future: asyncio.Future[TextEvent] | None
    lane: Lane | None
    deadline: int | None  # nanoseconds on the clock of `Deadlines`

    def __await__(self) -> Generator[Any, Any, TextEvent]:
        return self  # type: ignore[return-value]

    def __next__(self) -> Any:
        # The first step (and any later one with nothing sent in, as `send(None)`).
        inner = self.inner
        if inner is not None:
            return self if inner is PARKED else self.send(None)
        lane = _lane(None)
        if lane is not None and (latest := lane.latest) is not None:
            # The run asked before and an answer resumed it (a dialogue's usual step):
            # its event, its dialogues and the conversation's latest message are known.
            dialogues = lane.dialogues
        else:
            dialogues, latest = self._start(lane)
        prompt = self.prompt
        if prompt is not None:
            keyboard = self.keyboard
            if keyboard is None:
                reply = latest.reply(prompt)
            else:
                reply = latest.reply(prompt, keyboard=keyboard)
                self.keyboard = None
            inner = reply.__await__()
            # `next` with a default: a reply sent without a suspension ends with no
            # StopIteration raised and caught here (the usual case: cheaper).
            yielded = next(inner, _SENT)
            if yielded is not _SENT:
                self.inner = inner
                self.latest = latest
                return yielded
            self.prompt = None  # what it awaits from now on ends with the answer
        return dialogues.wait(self, latest, lane)

    def _start(self, lane: Lane | None) -> tuple[Dialogues, TextEvent]:
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

    def send(self, value: Any) -> Any:
        """One step: what the awaited thing yields; StopIteration(answer) at the end."""
        inner = self.inner
        if inner is PARKED:  # `value` is the answer (`Dialogues.answer` cleared `lane.waiter`)
            if value is None:
                return self
            raise StopIteration(value)
        if inner is None:
            if value is not None:
                raise TypeError("can't send non-None value to a just-started ask()")
            return self.__next__()
        try:
            return inner.send(value)
        except StopIteration:
            if self.prompt is None:
                raise  # the answer
        return self._wait()  # the prompt is sent

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        """As `send`, raising in what it awaits (parked: the run resumes with it)."""
        exc = typ if val is None else val
        inner = self.inner
        if inner is PARKED:  # a timeout, a cancel word, a stop
            self._resumed()
            raise exc
        if inner is None:
            raise exc
        try:
            return inner.throw(exc)
        except StopIteration:
            if self.prompt is None:
                raise
        return self._wait()

    def close(self) -> None:
        """Close what it awaits (the run is closed); parked, it no longer waits."""
        inner, self.inner = self.inner, None
        if inner is PARKED:
            self.dialogues.take(self)
            self._resumed()
        elif inner is not None:
            inner.close()

    def _wait(self) -> Any:
        """Start waiting once the prompt's reply, which suspended, is sent."""
        self.prompt = self.keyboard = None
        run = current_run("ask()")
        return dialogues_of(run, "ask()").wait(self, self.latest, _lane(None))

    def _resumed(self) -> None:
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
