"""The host: wires config, storage, plugins, dispatcher and adapters together.

`Host` builds its parts here and hands each the callables it needs; what the
host then does lives in its two bases: `_lifecycle.Lifecycle` (start, stop,
serve) and `_events.EventPath` (submit, enqueue, handle: the per-event path).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from botrt.adapter import Adapter, Event, MemberSource, Outbound
from botrt.handle import Dispatcher, Services
from botrt.hooks import HostPluginManager, make_plugin_manager
from botrt.host._conversations import dialogues_for
from botrt.host._events import EventPath
from botrt.host._intake import open_intake
from botrt.host._lifecycle import Lifecycle
from botrt.host._members import MemberSync
from botrt.host._metrics import HostMetrics, PluginGauge
from botrt.host._plugins import PluginRuntime
from botrt.host._replies import wire_replies
from botrt.host._scheduler import Scheduler
from botrt.host._services import ServiceTable
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
from botrt.plugin._internal import BackgroundTasks

if TYPE_CHECKING:
    from botrt.config import BotConfig

log = logging.getLogger("botrt.host")


class Host(EventPath, Lifecycle):
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
        self.pm: HostPluginManager = make_plugin_manager(entry_points=entry_points)
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
