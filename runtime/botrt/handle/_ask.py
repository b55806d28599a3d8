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
from botrt.handle._run import FlowContextError, FlowRun, current_run
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
    return _Asking(prompt, timeout, keyboard)


class _Asking:
    """What `ask()` returns: awaited, it sends the prompt, then waits for the answer.

    Written out as the coroutine it stands for (``await reply(prompt)``, then
    ``return await dialogues.wait(...)``), so that a waiting ask keeps a
    small object instead of a coroutine frame (one per waiting user). It
    does what a coroutine would: nothing runs until it is awaited, every
    suspension passes through, exceptions are thrown into what it awaits.
    """

    __slots__ = ("_dialogues", "_inner", "_keyboard", "_latest", "_prompt", "_timeout")

    def __init__(self, prompt: str | None, timeout: float | None, keyboard: Any) -> None:
        self._prompt = prompt
        self._timeout = timeout
        self._keyboard = keyboard
        # What it awaits now: the prompt's reply, then the wait (None: not started).
        self._inner: Any = None
        self._dialogues: Dialogues | None = None
        self._latest: TextEvent | None = None

    def __await__(self) -> Generator[Any, Any, TextEvent]:
        return self  # type: ignore[return-value]

    def __next__(self) -> Any:
        return self.send(None)

    def send(self, value: Any) -> Any:
        """One step: what the awaited thing yields; StopIteration(answer) at the end."""
        inner = self._inner
        if inner is None:
            inner = self._begin()
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

    def _begin(self) -> Any:
        run = current_run("ask()")
        event = run.event
        if not isinstance(event, TextEvent):
            raise FlowContextError(
                f"ask() works only in a flow run started by a text message; this run handles "
                f"{type(event).__name__}, which has no user and chat to ask"
            )
        services = run.services
        dialogues = services.dialogues if services is not None else None
        self._dialogues = dialogues if dialogues is not None else dialogues_of(run, "ask()")
        lane = LANE.get(None)
        # The conversation's latest message: the same user in the same chat as `event`.
        self._latest = latest = (
            lane.latest if lane is not None and lane.latest is not None else event
        )
        prompt = self._prompt
        if prompt is None:
            return self._wait(False)
        keyboard = self._keyboard
        reply = (
            latest.reply(prompt) if keyboard is None else latest.reply(prompt, keyboard=keyboard)
        )
        self._inner = inner = reply.__await__()
        return inner

    def _wait(self, step: bool = True) -> Any:
        """Start waiting; with `step`, take its first step (the prompt was just sent)."""
        self._prompt = None
        latest = self._latest
        self._inner = inner = self._dialogues.wait(  # type: ignore[union-attr]
            latest,  # type: ignore[arg-type]
            latest,  # type: ignore[arg-type]
            self._timeout,
        ).__await__()
        self._dialogues = self._latest = self._keyboard = None
        return inner.send(None) if step else inner
