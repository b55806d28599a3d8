"""The host: wires config, storage, plugins, dispatcher and adapters, and runs them."""

from __future__ import annotations

import inspect
import logging
import sys
from bisect import bisect_left
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from botrt.adapter import Adapter, Event, MemberSource, Outbound
from botrt.config import is_plugin_enabled
from botrt.handle import Dispatcher, Services
from botrt.handle._internal import LANE
from botrt.hooks import make_plugin_manager
from botrt.host._cluster import lease_timing
from botrt.host._conversations import dialogues_for
from botrt.host._flood import FloodControl
from botrt.host._intake import open_intake
from botrt.host._members import MemberSync
from botrt.host._metrics import EVENT_BUCKETS, HostMetrics, PluginGauge
from botrt.host._middleware import EventMiddleware, outer_chain
from botrt.host._plugins import PluginRuntime
from botrt.host._replies import wire_replies
from botrt.host._scheduler import Scheduler
from botrt.host._services import ServiceTable, open_conversations, service_table
from botrt.host._serving import Serving
from botrt.host._web import WebServer
from botrt.plugin import (
    BotInfo,
    CommandCatalog,
    Members,
    Messenger,
    PluginIssue,
    Roles,
)
from botrt.plugin._internal import (
    BackgroundTasks,
    PluginMetricsHub,
    builtin_plugins_dir,
    discover,
)

if TYPE_CHECKING:
    import pluggy

    from botrt.config import BotConfig

log = logging.getLogger("botrt.host")

_current_lane = LANE.get  # bound once: read for every event


class Host:
    """One bot runtime: plugins, dispatcher, adapters, storage, for one ``bot.toml``.

    ``await host.start()`` loads everything; ``await host.serve()`` runs the
    adapters until `request_stop` (a signal, or the console's input ending),
    then drains. ``async with Host(config) as host:`` starts and stops it
    around a block, for tests and embedding.

    `metrics` turns the Prometheus registry (``metrics.registry``) on or off;
    by default it is on when something can scrape it: the ``[server]`` runs.
    Off, the host imports neither prometheus-client nor aiohttp; events are
    counted either way (plain integers, cheap).

    Attributes:
        config: the validated ``bot.toml``.
        dispatcher: delivers events to the plugins' flows.
        runtime: the running plugins.
        pm: the pluggy plugin manager with botrt's hook specs.
        catalog: every command of the running plugins.
        roles: who is an admin.
    """

    max_queue = 1000
    max_pending = 256
    drain_grace = 10.0
    member_sync_interval = 300.0

    def __init__(
        self,
        config: BotConfig,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        entry_points: bool = True,
        hook_modules: tuple[Any, ...] = (),
        metrics: bool | None = None,
    ) -> None:
        self.config = config
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else sys.stdout
        self.pm: pluggy.PluginManager = make_plugin_manager(entry_points=entry_points)
        for module in hook_modules:
            self.pm.register(module)
        self.storage: Any = None
        self.adapters: list[Adapter] = []
        self.load_issues: list[PluginIssue] = []
        self._lifetime = AsyncExitStack()
        self._outer: Callable[[Event], Awaitable[None]] | None = None  # see `_wire_middleware`
        self._received = False
        self._started = False
        self._wire_bots()
        # Only the server's /metrics can scrape the registry: on by default when it runs.
        self._wire_parts(config.server_active if metrics is None else metrics)
        self._wire_plugins()
        self._wire_intake()

    def _wire_bots(self) -> None:
        # What the platforms register per bot, and the services built on it.
        self.services = Services()
        self._service_decls = ServiceTable(())  # declared at start: see `service_table`
        self.outbound: dict[str, Outbound] = {}
        self.member_sources: dict[str, MemberSource] = {}
        self.members: Members | None = None
        self._member_sync = MemberSync(
            self.member_sources,
            lambda: self.members,
            lambda event: self.pm.hook.botrt_is_admin(host=self, event=event),
            storage=lambda: self.storage,
            clock=lambda: self.info.clock,
        )
        self.roles = Roles(lambda: self.config.bot.admins, self._member_sync.is_admin)
        self.messenger = Messenger(lambda: self.outbound)
        self.info = BotInfo(lambda: self.config)

    def _wire_parts(self, metrics: bool) -> None:
        # The scheduler, metrics and web server, each given callables, not the host.
        self.scheduler = Scheduler(
            info=self.info,
            config=lambda: self.config,
            flows=lambda: self.dispatcher.flows,
            storage=lambda: self.storage,
            bots=lambda: self.outbound,
            busy=self.busy,
            enqueue=self.enqueue,
            handle=self.handle,
        )
        self.pm.register(self.scheduler, name="botrt-scheduler")
        self.metrics = HostMetrics(
            queue_depth=self.queue_depth, plugins=self._plugin_gauges, enabled=metrics
        )
        self.pm.register(self.metrics, name="botrt-metrics")
        self._sources = self.metrics.sources
        self.web = WebServer(
            adapters=lambda: self.adapters,
            submit=self.submit,
            render_metrics=self.metrics.render,
            config=lambda: self.config.server,
        )

    def _wire_plugins(self) -> None:
        self.dispatcher = Dispatcher(
            services=self.services,
            prefixes=self.config.bot.prefixes,
            is_admin=self.roles.is_admin,
            dialogues=dialogues_for(self),
        )
        self.dispatcher.on_error = lambda flow, exc: self.metrics.flow_error(flow.plugin)
        wire_replies(self.dispatcher, lambda: self.config, self.info, self._report_error)
        self.background = BackgroundTasks()
        self.runtime = PluginRuntime(
            self.dispatcher,
            self._lifecycle_services,
            forget=self._forget_tables,
            retire=self.background.cancel,
        )
        self.catalog = CommandCatalog(
            lambda: self.runtime.plugins.values(), lambda: self.dispatcher.prefixes
        )

    def _wire_intake(self) -> None:
        # Bound methods and handles read once: `submit` runs for every event.
        self._intake, intake_worker = open_intake(
            self.handle, max_queue=self.max_queue, max_pending=self.max_pending
        )
        self._send_nowait = self._intake.send_nowait
        self._stop = anyio.Event()
        self._serving = Serving(
            intake=self._intake,
            worker=intake_worker,
            stop=self._stop,
            adapters=lambda: self.adapters,
            submit=self.submit,
            clock=lambda: self.info.clock,
            on_started=lambda: self.pm.hook.botrt_host_started(host=self),
            on_stopping=lambda: self.pm.hook.botrt_host_stopping(host=self),
            stop_background=self.background.stop_all,
        )

    # -- services --------------------------------------------------------------

    def register_bot(
        self, name: str, *, outbound: Outbound | None = None, members: MemberSource | None = None
    ) -> None:
        """Declare what a platform offers for bot account `name` (called by adapter hooks)."""
        if outbound is not None:
            self.outbound[name] = outbound
        if members is not None:
            self.member_sources[name] = members

    async def sync_members(self) -> None:
        """Fetch every bot's member list from its platform and store it."""
        await self._member_sync.sync()

    def _report_error(
        self, plugin: str | None, flow: str, node: str, event: Event, exc: Exception
    ) -> None:
        # Each reporter on its own: one that fails must not silence the others.
        given = {"host": self, "plugin": plugin, "flow": flow, "node": node}
        given |= {"event": event, "exception": exc}
        for impl in self.pm.hook.botrt_flow_error.get_hookimpls():
            try:
                impl.function(*(given[name] for name in impl.argnames))
            except Exception:
                log.exception("the error reporter %s failed", impl.plugin_name)

    def _plugin_gauges(self) -> list[PluginGauge]:
        return [
            PluginGauge(name, plugin.version, self.background.running(name))
            for name, plugin in self.runtime.plugins.items()
        ]

    def _forget_tables(self, plugin: str) -> None:
        # A new version re-declares its tables; the old declarations must not linger.
        if self.storage is not None:
            self.storage.forget_plugin(plugin)

    def _lifecycle_services(self, plugin: str) -> dict[type, Any]:
        return self._service_decls.for_plugin(plugin)

    # -- lifecycle -------------------------------------------------------------

    def plugin_folders(self) -> dict[str, Path]:
        """The enabled plugin folders by name, in the precedence ``bot.toml`` gives."""
        p = self.config.plugins
        found = discover(p.dirs, builtin_plugins_dir() if p.builtin else None)
        return {n: f for n, f in found.items() if is_plugin_enabled(self.config, n)}

    async def start(self) -> list[PluginIssue]:
        """Open storage, load the plugins, and create the adapters.

        Returns the plugins' load problems (those plugins are left out and logged).
        Call `stop` from the same task: the host's background work lives in a
        task group opened here.
        """
        await self._lifetime.enter_async_context(self.background)
        if self.config.storage is not None:
            from botrt.storage import Storage

            self.storage = await Storage.open(self.config.storage.resolved_url)
            self.storage.lease_timing = lease_timing(self.config.cluster)
            self.members = Members(self.storage.for_plugin("botrt"), lambda: self.config.bot.admins)
            await self.members.setup()
            await self.scheduler.setup()
        # Built at start, not in __init__: storage, members and `metrics.registry`
        # are only known then.
        self.plugin_metrics = PluginMetricsHub(lambda: self.metrics.registry)
        self._service_decls = service_table(
            settings=lambda: self.config.plugins,
            catalog=self.catalog,
            roles=self.roles,
            messenger=self.messenger,
            info=self.info,
            background=self.background,
            metrics=self.plugin_metrics,
            members=self.members,
            storage=self.storage,
        )
        self._service_decls.install(self.services)
        await open_conversations(
            self.dispatcher, self.storage, self.info, lambda: self.config.conversations
        )
        # Adapters first: their hooks register what plugins may use in on_load
        # (sending through a bot, its members).
        self.adapters = [a for group in self.pm.hook.botrt_adapters(host=self) for a in group]
        self.runtime.importer.install()
        self.load_issues = await self.runtime.load_all(self.plugin_folders())
        for issue in self.load_issues:
            log.error("plugin refused: %s", issue)
        for name, plugin in self.runtime.plugins.items():
            log.info("plugin %s %s loaded", name, plugin.version)
            self.pm.hook.botrt_plugin_loaded(host=self, plugin=plugin)
        self._wire_middleware()
        self._started = True
        return self.load_issues

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
        # The filters run inline in `handle`, first: as cheap as before for VK's tracker.
        self._received = bool(hook.botrt_event_received.get_hookimpls())
        chain.extend(hook.botrt_event_middleware(host=self))
        self._outer = outer_chain(chain, partial(self.handle, past_middleware=True))
        self.dispatcher.middleware = hook.botrt_flow_middleware(host=self)

    async def stop(self) -> None:
        """Unload plugins (running `on_unload`), close adapters and storage.

        Plugins' background tasks are cancelled first (if `serve` has not
        done so); what they shield must end within `drain_grace`.
        """
        if self.background.deadline is None:
            self.background.stop_all(anyio.current_time() + self.drain_grace)
        await self.runtime.unload_all()
        await self._lifetime.aclose()
        self.runtime.importer.uninstall()
        for adapter in self.adapters:
            try:
                await adapter.close()
            except Exception:
                log.exception("adapter %s did not close cleanly", adapter.name)
        if self.storage is not None:
            await self.scheduler.close()  # slots whose runs ended are recorded done
            await self.storage.close()
            self.storage = None
        self._started = False

    async def __aenter__(self) -> Host:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def request_stop(self) -> None:
        """Stop taking events; `serve` drains what is in flight and returns.

        The stop has one deadline, `drain_grace` seconds from the moment
        `serve` sees this: events in flight and plugins' background work
        (cancelled at once) must have ended by then.
        """
        self._stop.set()

    # -- serving ---------------------------------------------------------------

    async def serve(self, *, extra_tasks: tuple[Any, ...] = (), signals: bool = True) -> None:
        """Run adapters and the dispatcher until `request_stop`, then drain.

        In-flight and queued events (scheduled slots included) finish before
        this returns, and plugins' background tasks are cancelled, all within
        `drain_grace` seconds of the stop: one deadline for all of it.
        `extra_tasks` are async callables run beside the adapters (the reload
        watcher) and cancelled with them.
        """
        tasks = list(extra_tasks)
        if self.member_sources:
            tasks.append(partial(self._member_sync.run, self.member_sync_interval))
        if self.storage is not None:
            tasks.append(self.scheduler.run)
        if self.config.server_active:
            tasks.append(self.web.run)
        await self._serving.serve(tasks, drain_grace=self.drain_grace, signals=signals)

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
                for verdict in self.pm.hook.botrt_event_received(host=self, event=event):
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
            elapsed = perf_counter() - started
            source = self._sources.get((event.bot, event.platform))
            if source is None:
                source = self.metrics.source(event.bot, event.platform)
            # `Source.done`, inline: this runs for every event.
            source.handled += 1
            latency = source.latency
            latency.counts[bisect_left(EVENT_BUCKETS, elapsed)] += 1
            latency.total += elapsed
        if event.on_handled is not None:  # after `finally`: not for a cancelled run
            event.on_handled()
