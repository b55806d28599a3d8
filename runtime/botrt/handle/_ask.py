"""`ask()`: a flow run asks its user a question and waits for the answer, in memory.

The waiting asks of a dispatcher are kept in `Dialogues`, keyed (bot, chat,
user); the dispatcher looks there first, and only while one waits, so an
event costs one truth test of an empty dict otherwise. A waiting run is
detached from its lane (see `_lane`): it holds no slot, no turn of its chat
and no reload. Timeouts are kept in one heap, on the host's clock, woken by
one sweeper task while any ask waits: no task or timer per waiting ask.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import heapq
import itertools
import logging
import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import anyio

from botrt._errors import BotrtError
from botrt.adapter import TextEvent
from botrt.handle._lane import LANE, Lane
from botrt.handle._run import FlowContextError, FlowRun, current_run
from botrt.i18n import N_

if TYPE_CHECKING:
    from botrt.adapter import Event

log = logging.getLogger("botrt.conversations")

Key = tuple[str, int, int]
"""(bot, peer_id, user_id): whose next message answers a waiting ask."""


class ConversationEnded(BotrtError):
    """Raised by a waiting `ask()` that will get no answer.

    This class itself: the host stops (a restart) while the ask waits. Its
    subclasses say why otherwise. Left uncaught, the run ends quietly (no
    error is logged) after the user is told, in the bot's language, that the
    conversation ended and why (`notice`).

    Attributes:
        event: the conversation's latest message (the notice answers it).
    """

    notice: ClassVar[str] = N_(
        "The conversation was interrupted: the bot is restarting. Please start again in a minute."
    )
    """What the user is told when the exception goes uncaught (English; translated)."""

    def __init__(self, message: str, *, event: TextEvent | None = None) -> None:
        super().__init__(message)
        self.event = event


class ConversationTimeout(ConversationEnded):
    """Raised by `ask()` when no answer came within its timeout.

    Attributes:
        timeout: the seconds it waited.
    """

    notice: ClassVar[str] = N_("The conversation ended: no answer came in time.")

    def __init__(self, timeout: float, *, event: TextEvent | None = None) -> None:
        super().__init__(f"no answer came within {timeout:g} s", event=event)
        self.timeout = timeout


class ConversationCancelled(ConversationEnded):
    """Raised by `ask()` when the user answered with a cancel word (``[conversations] cancel``).

    Attributes:
        word: the cancel word as the user wrote it.
    """

    notice: ClassVar[str] = N_("The conversation was cancelled.")

    def __init__(self, word: str, *, event: TextEvent | None = None) -> None:
        super().__init__(f"the user cancelled the conversation with {word!r}", event=event)
        self.word = word


class DialogueSettings(Protocol):
    """What `Dialogues` reads of ``[conversations]`` (``botrt.config.ConversationsSection``)."""

    @property
    def timeout(self) -> float:
        """Seconds an `ask` waits by default."""
        ...

    @property
    def cancel(self) -> Iterable[str]:
        """Words that end a conversation."""
        ...


class DialogueClock(Protocol):
    """The host's clock, as `botrt.plugin.Clock` (handle cannot import plugin)."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware."""
        ...

    async def sleep_until(self, moment: dt.datetime | None, wake: anyio.Event) -> None:
        """Return at `moment`, or earlier once `wake` is set."""
        ...


class _Defaults:
    """``[conversations]``'s defaults, for a dispatcher that runs without a host."""

    timeout = 300.0
    cancel = ("/cancel",)


class _WallClock:
    """The real time, for a dispatcher without a host (the host passes its own clock)."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    async def sleep_until(self, moment: dt.datetime | None, wake: anyio.Event) -> None:
        delay = None if moment is None else max(0.0, (moment - self.now()).total_seconds())
        with anyio.move_on_after(delay):
            await wake.wait()


class Waiter:
    """One waiting `ask()`: what resolves it, and what it answers to."""

    __slots__ = ("deadline", "dialogues", "future", "key", "lane", "latest", "timeout")

    def __init__(
        self,
        dialogues: Dialogues,
        key: Key,
        future: asyncio.Future[TextEvent],
        lane: Lane | None,
        latest: TextEvent,
        timeout: float,
    ) -> None:
        self.dialogues = dialogues
        self.key = key
        self.future = future
        self.lane = lane
        self.latest = latest
        self.timeout = timeout
        self.deadline: dt.datetime | None = None

    def stop(self) -> None:
        """End the wait with `ConversationEnded` (the host stops); no-op once resolved."""
        if self.dialogues.take(self):
            self.future.set_exception(
                ConversationEnded("the bot stopped while waiting for an answer", event=self.latest)
            )


class Dialogues:
    """The asks of one dispatcher that wait for an answer.

    The host passes what it owns: `settings` (``[conversations]``), `clock`,
    `translate` (a text in the bot's language) and `count_out` (takes a
    detached event out of its reload epoch). Without a host, the defaults of
    ``[conversations]``, the real time and English apply.

    Attributes:
        waiting: the waiting asks by (bot, peer_id, user_id).
    """

    def __init__(
        self,
        *,
        settings: Callable[[], DialogueSettings] | None = None,
        clock: Callable[[], DialogueClock] | None = None,
        translate: Callable[[str], str] | None = None,
        count_out: Callable[[int], None] | None = None,
    ) -> None:
        self.waiting: dict[Key, Waiter] = {}
        self._settings: Callable[[], DialogueSettings] = settings or _Defaults
        self._clock: Callable[[], DialogueClock] = clock or _WallClock
        self._translate = translate or (lambda text: text)
        self._count_out = count_out
        # Deadlines: (moment, order, waiter); answered waiters stay until popped or compacted.
        self._deadlines: list[tuple[dt.datetime, int, Waiter]] = []
        self._stale = 0
        self._order = itertools.count()
        self._sweeper: asyncio.Task[None] | None = None
        self._wake: anyio.Event | None = None
        self._sleeping_until: dt.datetime | None = None

    # -- waiting ---------------------------------------------------------------

    async def wait(self, event: TextEvent, latest: TextEvent, within: float | None) -> TextEvent:
        """Wait for the next message of `event`'s user in its chat on its bot.

        `within` is in seconds (None: ``[conversations] timeout``); `latest`
        is what the end notice answers.

        :raises ConversationTimeout: no answer within `within` seconds.
        :raises ConversationCancelled: the answer was a cancel word.
        :raises ConversationEnded: the host stopped meanwhile.
        :raises FlowContextError: an ask already waits for that user there.
        :raises ValueError: `within` is not a positive number of seconds.
        """
        key = (event.bot, event.peer_id, event.user_id)
        if key in self.waiting:
            raise FlowContextError(
                f"ask(): an ask already waits for user {event.user_id} in chat {event.peer_id} "
                f"on bot {event.bot!r}; a user has one conversation at a time in a chat"
            )
        seconds = float(self._settings().timeout if within is None else within)
        if not seconds > 0:
            raise ValueError(f"ask(timeout={within!r}): the timeout must be positive seconds")
        lane = LANE.get(None)
        future: asyncio.Future[TextEvent] = asyncio.get_running_loop().create_future()
        waiter = Waiter(self, key, future, lane, latest, seconds)
        self.waiting[key] = waiter
        if not math.isinf(seconds):
            self._schedule(waiter, seconds)
        if lane is not None:
            lane.waiter = waiter
            if lane.detach() and lane.epoch is not None and self._count_out is not None:
                epoch, lane.epoch = lane.epoch, None
                self._count_out(epoch)  # a reload no longer waits for this run
            if lane.stopping():
                waiter.stop()
        try:
            return await future
        finally:
            self.take(waiter)  # cancelled while waiting
            if lane is not None and lane.waiter is waiter:
                lane.waiter = None

    def take(self, waiter: Waiter) -> bool:
        """Remove `waiter` from the waiting asks; False if it was resolved already."""
        if self.waiting.get(waiter.key) is not waiter:
            return False
        del self.waiting[waiter.key]
        if waiter.deadline is not None:
            self._stale += 1
        if not self.waiting and self._wake is not None:
            self._wake.set()  # the sweeper has nothing left to wait for
        return True

    async def answer(self, waiter: Waiter, event: TextEvent) -> None:
        """Hand `event` to the waiting `waiter`; return once the run waits again or ends.

        A cancel word ends the wait with `ConversationCancelled` instead.
        """
        if not self.take(waiter):
            return
        lane = waiter.lane
        step: asyncio.Future[None] | None = None
        if lane is not None:
            lane.latest = event
            if lane.detached:
                step = asyncio.get_running_loop().create_future()
                lane.step = step
        text = event.text.strip()
        if text.casefold() in {w.strip().casefold() for w in self._settings().cancel}:
            waiter.future.set_exception(ConversationCancelled(text, event=event))
        else:
            waiter.future.set_result(event)
        if step is not None:
            await step

    async def tell_ended(self, exc: ConversationEnded, event: Event) -> None:
        """An uncaught `exc` ended the run of `event`: tell the user, quietly for the log."""
        target = exc.event if exc.event is not None else event
        log.info("conversation ended without an answer (%s): %r", exc, target)
        if not isinstance(target, TextEvent):
            return
        try:
            await target.reply(self._translate(exc.notice))
        except Exception:
            log.exception("could not tell %r that the conversation ended", target)

    # -- timeouts --------------------------------------------------------------

    def _schedule(self, waiter: Waiter, seconds: float) -> None:
        deadline = self._clock().now() + dt.timedelta(seconds=seconds)
        waiter.deadline = deadline
        heapq.heappush(self._deadlines, (deadline, next(self._order), waiter))
        sweeper = self._sweeper
        if sweeper is None or sweeper.done():
            # A context of its own: the sweeper must not keep the asking run's context alive.
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep(), context=contextvars.Context()
            )
        elif self._sleeping_until is not None and deadline < self._sleeping_until:
            self._wake.set()  # type: ignore[union-attr]
        if self._stale > 64 and self._stale * 2 > len(self._deadlines):
            self._compact()

    def _compact(self) -> None:
        live = [entry for entry in self._deadlines if self.waiting.get(entry[2].key) is entry[2]]
        heapq.heapify(live)
        self._deadlines = live
        self._stale = 0

    async def _sweep(self) -> None:
        try:
            while True:
                heap = self._deadlines
                if not self.waiting:
                    heap.clear()
                    self._stale = 0
                    return
                while heap and self.waiting.get(heap[0][2].key) is not heap[0][2]:
                    heapq.heappop(heap)
                    self._stale -= 1
                if not heap:
                    return
                clock = self._clock()
                self._wake = wake = anyio.Event()
                self._sleeping_until = heap[0][0]
                try:
                    await clock.sleep_until(heap[0][0], wake)
                finally:
                    self._sleeping_until = None
                    self._wake = None
                now = clock.now()
                heap = self._deadlines
                while heap and heap[0][0] <= now:
                    _, _, waiter = heapq.heappop(heap)
                    if self.take(waiter):
                        waiter.future.set_exception(
                            ConversationTimeout(waiter.timeout, event=waiter.latest)
                        )
                    self._stale -= 1  # `take` counted it stale, now or earlier
        except Exception:
            log.exception("the timeouts of waiting asks failed; they wait without one now")


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
