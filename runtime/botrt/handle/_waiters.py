"""The asks of a dispatcher that wait for an answer, and how an answer reaches one.

A waiting ask is a `Waiter` in `Dialogues.waiting`, keyed (bot, chat, user);
the dispatcher looks there first, and only while one waits, so an event costs
one truth test of an empty dict otherwise. A waiting run is detached from its
lane (`_lane`): it holds no slot, no turn of its chat, no reload. Where the
lane can *park* the run (the host's intake), it keeps no task while it waits:
the `Waiter` is what its coroutine yields to its lane, which sets it aside;
the answer's handling resumes it (`Lane.resume`). Elsewhere (`TestHost`, a
task the run started) it waits on a future in its own task. See `_timeouts`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from itertools import repeat
from typing import TYPE_CHECKING, Protocol

from botrt.adapter import TextEvent
from botrt.handle._ended import ConversationCancelled, ConversationEnded, ConversationTimeout
from botrt.handle._run import FlowContextError
from botrt.handle._timeouts import Deadlines, DialogueClock, WallClock

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.handle._ask import Waiter
    from botrt.handle._lane import Lane

log = logging.getLogger("botrt.conversations")
_FOREVER = float("inf")  # a timeout that never ends: no deadline

Key = tuple[str, int, int]
"""(bot, peer_id, user_id): whose next message answers a waiting ask."""


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


class _Defaults:
    """``[conversations]``'s defaults, for a dispatcher that runs without a host."""

    timeout, cancel = 300.0, ("/cancel",)


_DEFAULTS = repeat(_Defaults()).__next__  # the same object every time, no Python frame


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
        self._settings: Callable[[], DialogueSettings] = settings or _DEFAULTS
        self._translate = translate or (lambda text: text)
        self._count_out = count_out
        # One clock object: the deadlines are rebased when the clock object changes.
        clock = clock or repeat(WallClock()).__next__
        self._deadlines = Deadlines(self.waiting, clock, self._expire)
        # What is used of the settings, worked out once per settings object (a new
        # object for new values: the host's section is frozen).
        self._seen: object = None
        self._cancel_words: frozenset[str] = frozenset()
        self._timeout = 0.0

    def wait(
        self, waiter: Waiter, latest: TextEvent, lane: Lane | None
    ) -> asyncio.Future[TextEvent] | None:
        """Make `waiter` wait for the next message of `latest`'s user in its chat on its bot.

        Returns the future the run waits on in its own task, or None when
        `lane` (the asking run's ``LANE``, None outside one) parks the run:
        the ask then yields `waiter` to it. `waiter.timeout` is in seconds
        (None: ``[conversations] timeout``); `latest` is what the end notice
        answers. The checks below raise at once.

        :raises ConversationTimeout: no answer within the timeout.
        :raises ConversationCancelled: the answer was a cancel word.
        :raises ConversationEnded: the host stopped meanwhile.
        :raises FlowContextError: an ask already waits for that user there.
        :raises ValueError: the timeout is not a positive number of seconds.
        """
        within = waiter.timeout
        if within is None:
            if self._settings() is not self._seen:
                self._apply(self._settings())
            seconds = self._timeout  # checked by `_apply`
        else:
            seconds = float(within)
            if not seconds > 0:
                raise ValueError(f"ask(timeout={within!r}): the timeout must be positive seconds")
        waiter.dialogues = self
        waiter.lane = lane
        waiter.latest = latest
        waiter.timeout = seconds
        # One lookup: registered unless an ask already waits there.
        key = waiter.key = (latest.bot, latest.peer_id, latest.user_id)
        if self.waiting.setdefault(key, waiter) is not waiter:
            raise FlowContextError(
                f"ask(): an ask already waits for user {latest.user_id} in chat {latest.peer_id} "
                f"on bot {latest.bot!r}; a user has one conversation at a time in a chat"
            )
        if seconds != _FOREVER:
            self._deadlines.add(waiter, seconds)  # sets `deadline`
        else:
            waiter.deadline = None
        if lane is None:
            future = waiter.future = asyncio.get_running_loop().create_future()
            return future
        lane.waiter = waiter
        lane.dialogues = self
        parks = lane.driving
        if parks:
            waiter.future = None
            if lane.detached and not lane.ending:
                return None  # parks again (a dialogue's usual step): nothing to give back
        else:
            # Before the lane lets go: a lane tells a parked wait by its missing future.
            waiter.future = asyncio.get_running_loop().create_future()
        if (
            not (parks and lane.detached)
            and lane.detach()
            and lane.epoch is not None
            and self._count_out is not None
        ):
            epoch, lane.epoch = lane.epoch, None
            self._count_out(epoch)  # a reload no longer waits for this run
        if lane.ending and self.take(waiter):
            waiter.resumed()
            raise ConversationEnded("the bot stopped while waiting for an answer", event=latest)
        return waiter.future

    def take(self, waiter: Waiter) -> bool:
        """Remove `waiter` from the waiting asks; False if it was resolved already."""
        if self.waiting.get(waiter.key) is not waiter:
            return False
        del self.waiting[waiter.key]
        self._deadlines.left(waiter)
        return True

    def _expire(self, waiter: Waiter) -> None:
        if self.take(waiter):
            waiter.fail(ConversationTimeout(waiter.timeout, event=waiter.latest))

    def answer(self, waiter: Waiter, event: TextEvent) -> Awaitable[None]:
        """Hand `event` to `waiter`, which the caller took out of `waiting`.

        The run goes on at once; what is returned, awaited, returns once it
        waits again or ends. A cancel word ends the wait with
        `ConversationCancelled` instead.
        """
        # `take`'s bookkeeping, written out: an answer is the hot path of a dialogue.
        if waiter.deadline is not None:
            waiter.deadline = None
            self._deadlines.stale += 1
        lane = waiter.lane
        if lane is not None:
            lane.latest = event
            if lane.waiter is waiter:
                lane.waiter = None  # it no longer waits
        if self._settings() is not self._seen:
            self._apply(self._settings())
        cancel = self._cancel_words
        if cancel and (text := event.text.strip()).casefold() in cancel:
            result: TextEvent | ConversationCancelled = ConversationCancelled(text, event=event)
        else:
            result = event
        if waiter.future is None:
            resumed = lane.resume(result)  # type: ignore[union-attr]
        else:
            resumed = _resume_future(waiter.future, lane, result)
        if not self.waiting:
            # The sweeper may have nothing left to wait for: checked once the run waits
            # again or ends (it usually has asked again by now).
            return self._deadlines.then_check_idle(resumed)
        return resumed

    def overdue(self) -> bool:
        """Whether a waiting ask has passed its timeout and not yet been ended (for tests)."""
        return self._deadlines.overdue()

    def _apply(self, settings: DialogueSettings) -> None:
        """Work out what is used of `settings`: the default timeout, the folded cancel words.

        :raises ValueError: the timeout is not a positive number of seconds.
        """
        timeout = float(settings.timeout)
        if not timeout > 0:
            raise ValueError(
                f"[conversations] timeout = {settings.timeout!r}: the timeout must be positive "
                "seconds"
            )
        self._timeout = timeout
        self._cancel_words = frozenset(w.strip().casefold() for w in settings.cancel)
        self._seen = settings

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


async def _resume_future(
    future: asyncio.Future[TextEvent],
    lane: Lane | None,
    result: TextEvent | ConversationCancelled,
) -> None:
    """Resolve a run waiting in its own task; wait until it waits again or ends."""
    step: asyncio.Future[None] | None = None
    if lane is not None and lane.detached:
        step = asyncio.get_running_loop().create_future()
        lane.step = step
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
    if step is not None:
        await step
