"""The host's lifecycle: start, stop and serve.

`Lifecycle` is mixed into `Host`: `start` opens storage, installs the services,
creates the adapters and loads the plugins; `stop` undoes it; `serve` runs the
adapters and the host's own tasks until `request_stop`, then drains.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import anyio

from botrt.adapter import Adapter, MemberSource
from botrt.config import is_plugin_enabled
from botrt.host._cluster import lease_timing
from botrt.host._services import ServiceTable, open_conversations, service_table
from botrt.plugin import Members, PluginIssue
from botrt.plugin._internal import PluginMetricsHub, builtin_plugins_dir, discover

if TYPE_CHECKING:
    import pluggy

    from botrt.config import BotConfig
    from botrt.handle import Dispatcher, Services
    from botrt.host._members import MemberSync
    from botrt.host._metrics import HostMetrics
    from botrt.host._plugins import PluginRuntime
    from botrt.host._scheduler import Scheduler
    from botrt.host._serving import Serving
    from botrt.host._web import WebServer
    from botrt.plugin import BotInfo, CommandCatalog, Messenger, Roles
    from botrt.plugin._internal import BackgroundTasks

log = logging.getLogger("botrt.host")


class Lifecycle:
    """Start, stop and serve `Host` (see the module)."""

    # Set by `Host`'s wiring.
    config: BotConfig
    pm: pluggy.PluginManager
    storage: Any
    adapters: list[Adapter]
    load_issues: list[PluginIssue]
    drain_grace: float
    member_sync_interval: float
    services: Services
    member_sources: dict[str, MemberSource]
    members: Members | None
    roles: Roles
    messenger: Messenger
    info: BotInfo
    scheduler: Scheduler
    metrics: HostMetrics
    web: WebServer
    dispatcher: Dispatcher
    background: BackgroundTasks
    runtime: PluginRuntime
    catalog: CommandCatalog
    plugin_metrics: PluginMetricsHub
    _service_decls: ServiceTable
    _member_sync: MemberSync
    _lifetime: AsyncExitStack
    _serving: Serving
    _stop: anyio.Event
    _started: bool
    _wire_middleware: Callable[[], None]  # `EventPath`'s

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

    async def __aenter__(self) -> Self:
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
