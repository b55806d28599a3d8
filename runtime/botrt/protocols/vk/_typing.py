"""`Typing`: "typing..." in a VK chat while a command there takes a while (SPEC §11).

The seed's bot calls ``messages.setActivity(type="typing")`` before every
command. botrt does it only for a command that has not answered after
`TYPING_DELAY`: a quick answer needs no indicator, and the call would cost
one of the bot's 20 requests a second for nothing. Per command, at most one
call, through the bot's rate-limited `VkApi`; VK shows the indicator for 10
seconds or until the bot's next message.

The per-command cost is small and needs no task: VK's middleware hook
(`botrt_event_received`, before dispatch, `_hooks.MemberTracker`) appends the command to a queue,
and `MessageNew.reply` marks it answered. As the delay is the same for every
command, the queue is in deadline order and one timer handle
(``loop.call_later``) serves all of it: it fires at the first deadline, goes
through every command due (dropping the answered ones ahead of the next
unanswered command), and is set again for that one. (A timer handle
per command costs several microseconds to make and cancel, about a tenth of
the whole path of a VK event.) Only a command still unanswered when its time
comes starts a task, for the one API call. Then the host must still be
handling that conversation (`Host.busy`), so a command that finished without
replying shows nothing either.

Flooded group chats never show it: a group chat (``peer_id`` ≥ 2000000000)
from which the bot received `FLOOD_MESSAGES` messages or more within
`FLOOD_SECONDS` (any messages, commands or not) is flooded until that is no
longer true. There the indicator would be noise among the messages, and the
requests are better spent on answers. Private chats are not counted: one
user flooding the bot is a matter for the host's per-user limits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from botrt.protocols.vk._events import CHAT_PEER_OFFSET, MessageNew

if TYPE_CHECKING:
    from botrt.adapter import Event

log = logging.getLogger("botrt.vk")

TYPING_DELAY = 1.0
"""Seconds a command may run without answering before its chat shows "typing"."""
FLOOD_MESSAGES = 10
"""A group chat that sent this many messages within `FLOOD_SECONDS` is flooded."""
FLOOD_SECONDS = 10.0
"""The window of `FLOOD_MESSAGES`."""
_TRACKED_CHATS = 4096  # above this many group chats, idle ones are forgotten


class Cancellable(Protocol):
    """What `Timers.call_later` returns (an asyncio ``TimerHandle``)."""

    def cancel(self) -> None:
        """Do not call the callback (no effect once it ran)."""
        ...


class Timers(Protocol):
    """A monotonic clock and callbacks at its times; tests give one they move by hand."""

    def now(self) -> float:
        """Seconds from an arbitrary start; never goes back."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        """Call `callback()` (on the event loop) `delay` seconds from now."""
        ...


class LoopTimers:
    """The running asyncio loop's clock and ``call_later``."""

    def now(self) -> float:
        """The loop's time: asyncio's loops keep `time.monotonic`."""
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        """``loop.call_later(delay, callback)``."""
        return asyncio.get_running_loop().call_later(delay, callback)


class _Pending:
    """A command waiting for its indicator: due at `due`; `cancel` (its reply) drops it."""

    __slots__ = ("due", "event")

    def __init__(self, due: float, event: MessageNew) -> None:
        self.due = due
        self.event: MessageNew | None = event

    def cancel(self) -> None:
        """The command answered: no indicator (and the event is let go at once)."""
        self.event = None


class Typing:
    """Arms the "typing" indicator for VK commands; see the module docstring.

    `busy(event)` tells whether the host still handles the event's
    conversation; `prefixes()` gives the command prefixes (a message that
    does not start with one is not a command). `timers` is public so a test
    can put its own in before events arrive.

    Attributes:
        shown: `messages.setActivity` calls made.
        flooded: commands that got no indicator because their chat was flooded.
    """

    def __init__(
        self,
        *,
        busy: Callable[[Event], bool],
        prefixes: Callable[[], Sequence[str]],
        timers: Timers | None = None,
        delay: float = TYPING_DELAY,
        flood_messages: int = FLOOD_MESSAGES,
        flood_seconds: float = FLOOD_SECONDS,
    ) -> None:
        self.timers: Timers = timers if timers is not None else LoopTimers()
        self.delay = delay
        self.flood_messages = flood_messages
        self.flood_seconds = flood_seconds
        self.shown = 0
        self.flooded = 0
        self._busy = busy
        self._prefixes = prefixes
        # Group chat -> when its latest messages arrived (at most `flood_messages`).
        self._chats: dict[int, deque[float]] = {}
        self._calls: set[asyncio.Task[None]] = set()
        # Commands waiting for their deadline, oldest first; one timer for all of them.
        self._queue: deque[_Pending] = deque()
        self._timer: Cancellable | None = None

    def arm(self, event: Event) -> None:
        """Show "typing" in `event`'s chat if it is a command still running after the delay."""
        if type(event) is not MessageNew and not isinstance(event, MessageNew):
            return
        if event._api is None:
            return
        prefixes = self._prefixes()
        if type(prefixes) is not tuple:
            prefixes = tuple(prefixes)
        command = event.text.startswith(prefixes)
        if event.peer_id >= CHAT_PEER_OFFSET and self._flooded(event.peer_id):
            self.flooded += command
            return
        if not command:
            return
        pending = event._typing = _Pending(self.timers.now() + self.delay, event)
        self._queue.append(pending)
        if self._timer is None:
            self._timer = self.timers.call_later(self.delay, self._due)

    def close(self) -> None:
        """Forget the commands waiting and cancel the calls in flight (the host is stopping)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._queue.clear()
        for task in list(self._calls):
            task.cancel()

    def _flooded(self, peer_id: int) -> bool:
        now = self.timers.now()
        times = self._chats.get(peer_id)
        if times is None:
            if len(self._chats) >= _TRACKED_CHATS:
                self._forget_idle(now)
            times = self._chats[peer_id] = deque(maxlen=self.flood_messages)
        times.append(now)
        return len(times) == self.flood_messages and now - times[0] < self.flood_seconds

    def _forget_idle(self, now: float) -> None:
        for peer in [p for p, t in self._chats.items() if now - t[-1] >= self.flood_seconds]:
            del self._chats[peer]

    def _due(self) -> None:
        self._timer = None
        now = self.timers.now()
        queue = self._queue
        # Due commands fire; answered ones leave early too, so the timer is set
        # again for the next command still waiting, not once per answered command.
        while queue and (queue[0].event is None or queue[0].due <= now):
            event = queue.popleft().event
            if event is not None:
                self._fire(event)
        if queue:
            self._timer = self.timers.call_later(queue[0].due - now, self._due)

    def _fire(self, event: MessageNew) -> None:
        event._typing = None
        if not self._busy(event):
            return  # finished (without a reply) meanwhile
        task = asyncio.get_running_loop().create_task(self._show(event))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        event._typing = task  # a reply from now on cancels the call

    async def _show(self, event: MessageNew) -> None:
        api = event._api
        assert api is not None
        self.shown += 1
        try:
            await api.call("messages.setActivity", peer_id=event.peer_id, type="typing")
        except Exception as exc:  # an indicator is not worth an error in the log
            log.debug("typing not shown in %d: %s", event.peer_id, exc)
        finally:
            if event._typing is not None and event._typing is asyncio.current_task():
                event._typing = None
