"""`ask()`: a flow run asks its user a question and waits for the answer, in memory.

How the waiting asks are kept and answered is `_waiters`; their timeouts,
`_timeouts`; the exceptions of an ask that ends without an answer, `_ended`.
"""

from __future__ import annotations

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


# `timeout` is SPEC §8's name, on the host's clock: not a cancel scope (ASYNC109).
async def ask(
    prompt: str | None = None,
    *,
    timeout: float | None = None,  # noqa: ASYNC109
    keyboard: Any = None,
) -> TextEvent:
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
    (a ``botrt.adapter.Keyboard``) goes with the prompt.

    :raises ConversationTimeout: no answer within `timeout` seconds.
    :raises ConversationCancelled: the user sent a ``[conversations] cancel`` word.
    :raises ConversationEnded: the host stopped while waiting (both above
        are subclasses); left uncaught, the user is told and the run ends quietly.
    :raises FlowContextError: outside a flow run started by a text event, or
        when an ask already waits for this user in this chat.
    """
    run = current_run("ask()")
    event = run.event
    if not isinstance(event, TextEvent):
        raise FlowContextError(
            f"ask() works only in a flow run started by a text message; this run handles "
            f"{type(event).__name__}, which has no user and chat to ask"
        )
    dialogues = dialogues_of(run, "ask()")
    lane = LANE.get(None)
    latest = lane.latest if lane is not None and lane.latest is not None else event
    if prompt is not None:
        if keyboard is None:
            await latest.reply(prompt)
        else:
            await latest.reply(prompt, keyboard=keyboard)
    return await dialogues.wait(event, latest, timeout)
