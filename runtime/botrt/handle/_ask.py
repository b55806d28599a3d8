"""`ask()`: a flow run asks its user a question and waits for the answer, in memory.

How the waiting asks are kept and answered is `_waiters`; their timeouts,
`_timeouts`; the exceptions of an ask that ends without an answer, `_ended`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Generator
from typing import Any

from botrt.adapter import TextEvent
from botrt.handle._ended import ConversationCancelled, ConversationEnded, ConversationTimeout
from botrt.handle._lane import LANE
from botrt.handle._run import CURRENT, FlowContextError, FlowRun, current_run
from botrt.handle._timeouts import DialogueClock
from botrt.handle._waiters import Dialogues, DialogueSettings, Key, Waiter

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
    asking = _new(_Asking)
    asking._prompt = prompt
    asking._timeout = timeout
    asking._keyboard = keyboard
    asking._inner = asking._latest = None
    return asking


class _Asking:
    """What `ask()` returns: awaited, it sends the prompt, then waits for the answer.

    Written out as the coroutine it stands for (``await reply(prompt)``, then
    ``return await dialogues.wait(...)``), so that a waiting ask keeps a
    small object instead of a coroutine frame (one per waiting user). It
    does what a coroutine would: nothing runs until it is awaited, every
    suspension passes through, exceptions are thrown into what it awaits.
    A parked wait is the `Waiter` itself, stepped here without calling it.
    """

    __slots__ = ("_inner", "_keyboard", "_latest", "_prompt", "_timeout")

    # Made by `ask()`, which sets every slot: `_prompt`, `_timeout`, `_keyboard`;
    # `_inner`, what it awaits now (None: not started; the prompt's reply, then the
    # wait); `_latest`, the message a suspended prompt answers (the wait's too).
    _prompt: str | None
    _timeout: float | None
    _keyboard: Any
    _inner: Any
    _latest: TextEvent | None

    def __await__(self) -> Generator[Any, Any, TextEvent]:
        return self  # type: ignore[return-value]

    def __next__(self) -> Any:
        # The first step (and any later one with nothing sent in, as `send(None)`).
        if self._inner is not None:
            return self.send(None)
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
        lane = _lane(None)
        # The conversation's latest message: the same user in the same chat as `event`.
        latest = lane.latest if lane is not None and lane.latest is not None else event
        prompt = self._prompt
        if prompt is not None:
            keyboard = self._keyboard
            if keyboard is None:
                reply = latest.reply(prompt)
            else:
                reply = latest.reply(prompt, keyboard=keyboard)
                self._keyboard = None
            inner = reply.__await__()
            # `next` with a default: a reply sent without a suspension ends with no
            # StopIteration raised and caught here (the usual case: cheaper).
            yielded = next(inner, _SENT)
            if yielded is not _SENT:
                self._inner = inner
                self._latest = latest
                return yielded
        # `_wait_in`, written out: the usual first step sends the prompt and parks.
        self._prompt = None  # what it awaits from now on ends with the answer
        waiting = dialogues.wait(latest, latest, self._timeout, lane)
        if waiting.__class__ is Waiter:
            self._inner = waiting  # parked: its first step yields itself
            return waiting
        self._inner = inner = waiting.__await__()
        return inner.send(None)

    def send(self, value: Any) -> Any:
        """One step: what the awaited thing yields; StopIteration(answer) at the end."""
        inner = self._inner
        if inner.__class__ is Waiter:  # parked: `value` is the answer (`Waiter.send`)
            if value is None:
                return inner
            lane = inner.lane
            if lane is not None and lane.waiter is inner:
                lane.waiter = None
            raise StopIteration(value)
        if inner is None:
            if value is not None:
                raise TypeError("can't send non-None value to a just-started ask()")
            return self.__next__()
        try:
            return inner.send(value)
        except StopIteration:
            if self._prompt is None:
                raise  # the answer
        return self._wait()  # the prompt is sent

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        """As `send`, raising in what it awaits."""
        exc = typ if val is None else val
        inner = self._inner
        if inner is None:
            raise exc
        try:
            return inner.throw(exc)
        except StopIteration:
            if self._prompt is None:
                raise
        return self._wait()

    def close(self) -> None:
        """Close what it awaits (the run is closed)."""
        inner, self._inner = self._inner, None
        if inner is not None:
            inner.close()

    def _wait(self) -> Any:
        """Start waiting once the prompt's reply, which suspended, is sent."""
        latest, self._latest = self._latest, None
        run = current_run("ask()")
        return self._wait_in(dialogues_of(run, "ask()"), latest)  # type: ignore[arg-type]

    def _wait_in(self, dialogues: Dialogues, latest: TextEvent) -> Any:
        """Start waiting, and take the wait's first step."""
        self._prompt = self._keyboard = None
        waiting = dialogues.wait(latest, latest, self._timeout, _lane(None))
        if waiting.__class__ is Waiter:
            self._inner = waiting  # parked: its first step yields itself
            return waiting
        self._inner = inner = waiting.__await__()
        return inner.send(None)
