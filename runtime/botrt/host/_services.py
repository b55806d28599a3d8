"""The services the host gives plugins, declared once for flow runs and lifecycle functions.

Each `Service` says how to make its value for a plugin. The same table fills
the dispatcher's `Services` (a flow run's value is its plugin's) and answers
`on_load`/`on_unload` (`ServiceTable.for_plugin`), so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botrt.handle import NoMatch, Services
from botrt.plugin import (
    Background,
    BotInfo,
    CommandCatalog,
    Members,
    Messenger,
    Metrics,
    PluginSettings,
    Roles,
)

if TYPE_CHECKING:
    from botrt.config import ConversationsSection, PluginsSection
    from botrt.handle import Dispatcher
    from botrt.handle._internal import ConversationStates, FlowRun
    from botrt.plugin._internal import BackgroundTasks, PluginMetricsHub
    from botrt.storage import Storage


@dataclass(frozen=True)
class Service:
    """One injectable service.

    Attributes:
        kind: the type a parameter is annotated with.
        make: the value for a plugin name (``""`` for a flow outside plugins,
            when `per_plugin` is false).
        per_plugin: the value belongs to a plugin: a flow attached outside any
            plugin gets none (its node is skipped, as with `NoMatch`).
        shared: the value is the same for every plugin (made once per run, not per plugin).
    """

    kind: type
    make: Callable[[str], Any]
    per_plugin: bool = False
    shared: bool = False

    @classmethod
    def one(cls, kind: type, value: Any) -> Service:
        """A service whose value is `value` for every plugin and flow."""
        return cls(kind, lambda plugin: value, shared=True)

    def provider(self) -> Callable[[FlowRun], Any]:
        """The dispatcher's provider: the value for the run's plugin."""
        make = self.make
        if self.shared:
            value = make("")
            return lambda run: value
        if self.per_plugin:

            def owned(run: FlowRun) -> Any:
                plugin = run.flow.plugin
                if plugin is None:
                    raise NoMatch  # a flow attached outside any plugin owns none
                return make(plugin)

            return owned
        return lambda run: make(run.flow.plugin or "")


class ServiceTable:
    """The host's services, one declaration each."""

    def __init__(self, services: Iterable[Service]) -> None:
        self.services = tuple(services)

    def install(self, into: Services) -> None:
        """Register every service's provider for flow runs."""
        for service in self.services:
            into.register(service.kind, service.provider())

    def for_plugin(self, plugin: str) -> dict[type, Any]:
        """Every service's value for `plugin`, as its lifecycle functions receive them."""
        return {service.kind: service.make(plugin) for service in self.services}


def service_table(
    *,
    settings: Callable[[], PluginsSection],
    catalog: CommandCatalog,
    roles: Roles,
    messenger: Messenger,
    info: BotInfo,
    background: BackgroundTasks,
    metrics: PluginMetricsHub,
    members: Members | None,
    storage: Storage | None,
) -> ServiceTable:
    """The host's services: one declaration each, for flow runs and lifecycle functions.

    `settings` is read when a plugin's value is made, so a changed ``bot.toml``
    reaches the next run. Members and storage are offered only when the host has them.
    """

    def settings_for(plugin: str) -> PluginSettings:
        return PluginSettings(plugin, settings().settings_for(plugin))

    services = [
        Service(PluginSettings, settings_for),
        Service.one(CommandCatalog, catalog),
        Service.one(Roles, roles),
        Service.one(Messenger, messenger),
        Service.one(BotInfo, info),
        Service(Background, background.for_plugin, per_plugin=True),
        Service(Metrics, metrics.for_plugin, per_plugin=True),
    ]
    if members is not None:
        services.append(Service.one(Members, members))
    if storage is not None:
        from botrt.storage import PluginStorage

        services.append(Service(PluginStorage, storage.for_plugin, per_plugin=True))
    return ServiceTable(services)


async def open_conversations(
    dispatcher: Dispatcher,
    storage: Storage | None,
    info: BotInfo,
    settings: Callable[[], ConversationsSection],
) -> ConversationStates | None:
    """Give `dispatcher` the durable conversation states kept in `storage`, read from it now.

    Nodes then receive `botrt.handle.Conversation`, and `on_state` flows their
    messages. Without storage there are none (a `Conversation` parameter is
    skipped, as any service that does not apply). Time is the host's clock
    (``info.clock``), so tests move it by hand.

    :raises StorageError: if the states cannot be read.
    """
    if storage is None:
        return None
    from botrt.handle._internal import ConversationStates
    from botrt.storage._internal import StateRows

    translator = info.translator()
    states = ConversationStates(
        StateRows(storage),
        clock=lambda: info.clock.now().timestamp(),
        ttl=lambda: settings().state_ttl,
        cancel=lambda: settings().cancel,
        cancelled=lambda: translator.gettext("The conversation was cancelled."),
    )
    await states.load()
    dispatcher.states = states
    return states
