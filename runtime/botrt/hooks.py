"""pluggy hook specifications: how adapters, middleware and observers extend the host.

Third-party packages implement these with `hookimpl` in a module and register
it through the entry point group ``botrt``::

    [project.entry-points.botrt]
    my_adapter = "my_package.botrt_hooks"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from botrt.adapter import Adapter, Event
    from botrt.host import Host
    from botrt.plugin import LoadedPlugin, PluginIssue

PROJECT = "botrt"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class HostSpec:
    """The hooks the host calls. Every hook is optional for an implementation."""

    @hookspec
    def botrt_adapters(self, host: Host) -> list[Adapter]:  # type: ignore[empty-body]
        """Return the adapters this package provides for ``host.config`` (may be empty)."""

    @hookspec
    def botrt_event_received(self, host: Host, event: Event) -> bool | None:
        """Called for every event before dispatch; return False (or an awaitable of it) to drop it.

        The simple form of `botrt_event_middleware`, which can also act after.
        """

    @hookspec
    def botrt_event_middleware(self, host: Host) -> Any:
        """Return an event middleware ``async def mw(event, call_next)``, or None.

        Asked once, when the host starts. The middleware runs around the
        handling of every event (see the plugin guide for the order):
        ``await call_next()`` hands the event on and returns when every flow
        has finished with it; not calling it drops the event. Context
        variables it sets are seen by the flows.
        """

    @hookspec
    def botrt_flow_middleware(self, host: Host) -> Any:
        """Return a flow middleware ``async def mw(event, flow, call_next)``, or None.

        Asked once, when the host starts. It runs around each run of every
        flow; ``await call_next()`` runs the flow and returns its
        `botrt.handle.Outcome` (``"ok"``, ``"error"``, ``"blocked"``,
        ``"stopped"``); not calling it skips the flow for that event.
        """

    @hookspec
    def botrt_flow_error(
        self,
        host: Host,
        plugin: str | None,
        flow: str,
        node: str,
        event: Event,
        exception: Exception,
    ) -> None:
        """A flow failed on `event`: report it (to Sentry, say); called for every failure.

        `plugin` is None for a flow outside plugins; `node` is ``"(guard)"`` when
        the flow's guard raised, ``"(middleware)"`` for a flow middleware. Runs
        in the event's task, after the log line and before the user is told:
        keep it quick. What it raises is logged and does not reach the user.
        """

    @hookspec(firstresult=True)
    def botrt_is_admin(self, host: Host, event: Event) -> Any:
        """Return True/False (or an awaitable of it) if this package knows the sender's role."""

    @hookspec
    def botrt_host_started(self, host: Host) -> None:
        """The host has loaded its plugins and started its adapters."""

    @hookspec
    def botrt_host_stopping(self, host: Host) -> None:
        """The host stopped taking events and is draining."""

    @hookspec
    def botrt_plugin_loaded(self, host: Host, plugin: LoadedPlugin) -> None:
        """A plugin was loaded (at start, or a new folder appeared)."""

    @hookspec
    def botrt_plugin_unloaded(self, host: Host, plugin: LoadedPlugin) -> None:
        """A plugin was unloaded (disabled, or its folder removed)."""

    @hookspec
    def botrt_plugin_reloaded(
        self, host: Host, old: LoadedPlugin, new: LoadedPlugin, elapsed_ms: float
    ) -> None:
        """A plugin was reloaded: `new` now serves; `old` is draining or gone."""

    @hookspec
    def botrt_reload_refused(self, host: Host, plugin: str, issues: list[PluginIssue]) -> None:
        """A load or reload of `plugin` was refused; the old version (if any) keeps serving."""


class HostPluginManager(pluggy.PluginManager):
    """pluggy's plugin manager, telling its host when a hook module comes or goes.

    Attributes:
        on_change: called after every `register` and `unregister` (None: nobody
            listens). The host decides at start what runs in front of dispatch
            for every event; a hook module registered later must change that.
    """

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self.on_change: Callable[[], None] | None = None

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """As pluggy's `register`, then `on_change`."""
        registered = super().register(plugin, name)
        if self.on_change is not None:
            self.on_change()
        return registered

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        """As pluggy's `unregister`, then `on_change`."""
        unregistered = super().unregister(plugin, name)
        if self.on_change is not None:
            self.on_change()
        return unregistered


def make_plugin_manager(*, entry_points: bool = True) -> HostPluginManager:
    """A plugin manager with botrt's hook specs and the ``botrt`` entry points loaded."""
    pm = HostPluginManager(PROJECT)
    pm.add_hookspecs(HostSpec)
    if entry_points:
        pm.load_setuptools_entrypoints(PROJECT)
    return pm
