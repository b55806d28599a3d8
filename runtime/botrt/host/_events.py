"""The host's event path: taking events in, the filters in front, and `handle`.

`EventPath` is mixed into `Host`. It holds what runs for every event, and the
wiring that decides once, at start, what that is: `submit` and `enqueue` (into
the intake), `busy` and `queue_depth` (read from it), `_wire_middleware`
(``botrt_event_received`` filters, flood control and event middleware in front
of dispatch) and `handle` (filters, then the dispatcher, counted in flight and
in the per-source metrics). Methods, not a layer: `Host.handle` is this
`handle`, with no call in between.
"""

from __future__ import annotations

import inspect
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from time import perf_counter
from types import CoroutineType
from typing import TYPE_CHECKING, Any

import anyio

from botrt.handle._internal import DONE, LANE
from botrt.host._direct_hook import DirectHook
from botrt.host._flood import FloodControl
from botrt.host._metrics import EVENT_BUCKETS
from botrt.host._middleware import EventMiddleware, outer_chain

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.config import BotConfig
    from botrt.handle import Dispatcher
    from botrt.hooks import HostPluginManager
    from botrt.host._intake import IntakeSender
    from botrt.host._intake_lane import IntakeLane
    from botrt.host._metrics import HostMetrics, Source
    from botrt.host._plugins import PluginRuntime
    from botrt.plugin import BotInfo, Roles

_current_lane = LANE.get  # bound once: read for every event


class EventPath:
    """The event path of `Host`: submit, enqueue and handle events (see the module)."""

    # Set by `Host`'s wiring before any event arrives.
    config: BotConfig
    pm: HostPluginManager
    dispatcher: Dispatcher
    runtime: PluginRuntime
    metrics: HostMetrics
    info: BotInfo
    roles: Roles
    flood: FloodControl | None
    _intake: IntakeSender
    _send_nowait: Callable[[Event], None]
    _sources: dict[tuple[str, str], Source]
    _outer: Callable[[Event], Awaitable[None]] | None
    _received: bool
    _received_hook: DirectHook  # the ``botrt_event_received`` implementations

    def _wire_middleware(self) -> None:
        # Decided once: with no middleware and no flood limit, `handle` calls nothing more.
        chain: list[EventMiddleware] = []
        self.flood: FloodControl | None = None
        limit = self.config.bot.flood
        if limit is not None:
            texts = self.dispatcher.texts
            self.flood = FloodControl(
                limit,
                clock=lambda: self.info.clock.now().timestamp(),
                is_admin=self.roles.is_admin,
                notice=texts.flood,
                dropped=lambda event: self.metrics.flooded(event.bot),
            )
            chain.append(self.flood)
        hook = self.pm.hook
        self._received_hook = DirectHook(hook.botrt_event_received)
        chain.extend(hook.botrt_event_middleware(host=self))
        self._outer = outer_chain(chain, partial(self.handle, past_middleware=True))
        self.dispatcher.middleware = hook.botrt_flow_middleware(host=self)
        self._wire_filters()
        # A filter registered or removed later (an embedding's own hook module) counts.
        self.pm.on_change = self._wire_filters

    def _wire_filters(self) -> None:
        # The filters run inline in `handle`, first: as cheap as before for VK's tracker.
        self._received = bool(self.pm.hook.botrt_event_received.get_hookimpls())
        # Nothing in front of dispatch: the lanes run `handle` as its two halves, so that
        # a run parked in ask() keeps no coroutine of `handle`'s (see `_begin`).
        direct = not self._received and self._outer is None
        self._intake.run_directly(self._begin if direct else None, self._end)

    async def submit(self, event: Event) -> None:
        """Queue `event` for dispatch; waits while the queue is full (backpressure).

        :raises anyio.ClosedResourceError: once the host has stopped taking events.
        """
        source = self._sources.get((event.bot, event.platform))
        if source is None:
            source = self.metrics.source(event.bot, event.platform)
        source.received += 1
        try:
            self._send_nowait(event)
        except anyio.WouldBlock:
            await self._intake.send(event)

    def enqueue(self, event: Event) -> None:
        """Queue `event` for dispatch now, past `max_queue` if need be; never waits.

        For the host's own few events (a scheduled slot), which must neither
        wait behind a full queue nor be lost to it.

        :raises anyio.ClosedResourceError: once the host has stopped taking events.
        """
        self.metrics.source(event.bot, event.platform).received += 1
        self._intake.push(event)

    def busy(self, event: Event) -> bool:
        """Whether an event of `event`'s conversation is being handled or waits for it.

        Scheduled slots have a conversation per schedule.
        """
        return self._intake.busy(event)

    def queue_depth(self) -> int:
        """How many events wait in the queue."""
        return self._intake.statistics().queued

    async def handle(self, event: Event, *, past_middleware: bool = False) -> None:
        """Dispatch one event now (event middleware first), counting it in flight.

        `past_middleware` is the middleware chain's own call, at its end.
        """
        if not past_middleware:
            if self._received:
                for verdict in self._received_hook(host=self, event=event):
                    if inspect.isawaitable(verdict):
                        verdict = await verdict
                    if verdict is False:
                        if event.on_handled is not None:
                            event.on_handled()
                        return
            outer = self._outer
            if outer is not None:
                await outer(event)
                return
        runtime = self.runtime
        epoch = runtime.event_started()
        lane = _current_lane(None)  # an ask() that waits detaches from it (`_lanes`)
        if lane is not None:
            lane.epoch = epoch
        started = perf_counter()
        try:
            await self.dispatcher.deliver(event)  # `dispatch`, one coroutine fewer
        finally:
            if lane is None or not lane.detached:
                runtime.event_finished(epoch)  # a detached run was counted out when it detached
            self._count(event, started)
        if event.on_handled is not None:  # after `finally`: not for a cancelled run
            event.on_handled()

    def _begin(self, event: Event, lane: IntakeLane) -> Coroutine[Any, Any, Any] | None:
        """`handle` up to its await, for a lane: what is left to drive (None: nothing).

        The lane keeps what `handle`'s frame would (the event, its epoch, the
        start) and calls `_end` as the run ends, so a run that parks in
        ``ask()`` keeps no frame of `handle`'s, and an event handled at once
        (an answer whose run asks again) costs no coroutine.
        """
        lane.epoch = self.runtime.event_started()
        lane.event = event
        lane.started = perf_counter()
        try:
            # In the worker's context, not the lane's: `deliver` only looks up the route and
            # builds the run's coroutine (an answer resumes its run on the run's own
            # context); plugins' code runs when the lane drives the coroutine.
            run = self.dispatcher.deliver(event)
        except BaseException:
            self._end(lane, False)
            raise
        if run.__class__ is CoroutineType:
            return run  # type: ignore[return-value]
        if run is DONE:
            self._end(lane, True)
            return None
        return _driven(run)

    def _end(self, lane: IntakeLane, returned: bool) -> None:
        """`handle`'s tail for what `_begin` started: `returned` is False for an exception."""
        event, lane.event = lane.event, None
        if not lane.detached:
            self.runtime.event_finished(lane.epoch)  # type: ignore[arg-type]
        # `_count`, inline: this runs for every event.
        elapsed = perf_counter() - lane.started
        source = self._sources.get((event.bot, event.platform))
        if source is None:
            source = self.metrics.source(event.bot, event.platform)
        source.handled += 1
        latency = source.latency
        latency.counts[bisect_left(EVENT_BUCKETS, elapsed)] += 1
        latency.total += elapsed
        if returned and event.on_handled is not None:
            event.on_handled()

    def _count(self, event: Event, started: float) -> None:
        """Count `event`, which started at `started` (`perf_counter`), as handled."""
        source = self._sources.get((event.bot, event.platform))
        if source is None:
            source = self.metrics.source(event.bot, event.platform)
        source.done(perf_counter() - started)


async def _driven(awaitable: Awaitable[object]) -> None:
    """A coroutine around an awaitable that is not one (a resumed run that suspended)."""
    await awaitable
