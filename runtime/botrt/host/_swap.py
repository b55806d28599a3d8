"""A plugin's swap, as one sequence: the only place a running version changes.

A reload of plugin ``name`` from version *old* to *new* is, in order:

1. **prepare** (`prepare`): import *new* beside *old* under a namespace of its
   own and validate it (imports, planner, acyclic flows, no command clash).
   Nothing serves it yet; a refusal here leaves nothing behind.
2. **gate** (`Swap._gate`): the dispatcher holds *old*'s flows: events that
   reach them from now on wait at a `Gate` (see `botrt.handle._routes`);
   events that found their route before keep it. A new epoch starts.
3. **drain** (`Swap._drain`): wait until the events of earlier epochs are done
   (`_inflight.InFlight`).
4. **unload old** (`Swap._unload_old`): its background tasks end, its
   ``on_unload`` runs (what it returns is the hand-over), its table
   declarations are dropped. Its modules and flows stay, for a roll-back.
5. **load new** (`Swap._load_new`): *new*'s ``on_load`` gets the hand-over.
6. **open** (`Swap._commit`, then the gate opens): *new*'s flows replace
   *old*'s, *old*'s modules and what it added to other plugins' flows go, and
   the held events are delivered to *new*.

Or **roll back** (`Swap._roll_back`), when step 5 raises: *new*'s modules,
additions and table declarations go, *old*'s ``on_load`` runs again with its
own hand-over, and the gate opens on *old*'s flows: the old version serves
as before. Only if that fails too does the plugin stop serving.

A first load is steps 1, 5 and 6; an unload is 2 (the flows are removed, not
held), 3 and 4, then *old*'s flows and modules go.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from botrt.handle import Dispatcher
from botrt.handle._internal import Gate
from botrt.host._inflight import InFlight
from botrt.plugin import LoadedPlugin, PluginLoadError, load_plugin
from botrt.plugin._internal import (
    PluginImporter,
    find_clashes,
    find_uninjectable,
    unload_modules,
)

log = logging.getLogger("botrt.plugins")

LifecycleServices = Callable[[str], Mapping[type, Any]]


class Stage:
    """What every swap acts on: the running plugins, the dispatcher, the host's hooks.

    `retire` ends a plugin's background tasks; `forget` drops its table
    declarations (the host's storage). `loading` names the plugin being
    imported, for the importer's dependency records.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        services_for: LifecycleServices,
        *,
        forget: Callable[[str], None],
        retire: Callable[[str], Awaitable[None]] | None,
    ) -> None:
        self.dispatcher = dispatcher
        self.services_for = services_for
        self.forget = forget
        self.retire = retire
        self.plugins: dict[str, LoadedPlugin] = {}
        self.inflight = InFlight()
        self.loading: str | None = None
        self.generation = 0
        self.importer = PluginImporter(self._namespace_of, lambda: self.loading)

    def _namespace_of(self, name: str) -> str | None:
        plugin = self.plugins.get(name)
        return plugin.namespace if plugin is not None else None

    def withdraw(self, namespace: str) -> None:
        """Remove what the load `namespace` added to the running plugins' flows."""
        for plugin in self.plugins.values():
            for flow in plugin.flows:
                flow.withdraw(namespace)

    def discard(self, plugin: LoadedPlugin) -> None:
        """Drop a load that does not serve: its modules, and what it added to other flows."""
        unload_modules(plugin)
        self.withdraw(plugin.namespace)


def prepare(stage: Stage, name: str, folder: Path) -> LoadedPlugin:
    """Step 1: import and validate `folder` as plugin `name`, beside what is running.

    :raises PluginLoadError: with every problem, including command names
        that clash with the other running plugins; nothing of the load stays.
    """
    deps = stage.importer.dependencies
    previous_deps = deps.pop(name, None)
    stage.loading = name
    stage.generation += 1
    try:
        new = load_plugin(name, folder, stage.generation)
    except PluginLoadError as exc:
        if previous_deps is not None:
            deps[name] = previous_deps
        if exc.namespace is not None:
            stage.withdraw(exc.namespace)
        raise
    finally:
        stage.loading = None
    others = [p for n, p in stage.plugins.items() if n != name]
    clashes = [i for i in find_clashes([*others, new]) if i.plugin == name]
    services = stage.dispatcher.services
    clashes += find_uninjectable([new], lambda kind: services.find(kind) is not None)
    if clashes:
        stage.discard(new)
        raise PluginLoadError(clashes)
    return new


class Swap:
    """Steps 2 to 6 (or the roll-back) for one plugin; `run` them once.

    `new` None unloads the plugin. Callers serialise swaps (one at a time).
    While it runs, `_spent` and `_pending` say what to clean up if it is cut
    short: the old version once its ``on_unload`` has begun, and a new one
    that has not served.
    """

    def __init__(self, stage: Stage, name: str, new: LoadedPlugin | None) -> None:
        self.stage = stage
        self.name = name
        self.old = stage.plugins.get(name)
        self.new = new
        self._gate_held: Gate | None = None
        self._spent: LoadedPlugin | None = None  # unloaded, still in place for a roll-back
        self._pending: LoadedPlugin | None = new  # imported, not serving

    async def run(self) -> LoadedPlugin | None:
        """Swap; returns the old version (None on a first load).

        :raises Exception: what the new version's ``on_load`` raised, after
            the roll-back (the old version serves again).
        """
        old, new = self.old, self.new
        if old is None:
            if new is not None:
                await self._first_load(new)
            return None
        try:
            epoch = self._gate(old, new)
            await self._drain(epoch)
            previous = await self._unload_old(old)
            if new is None:
                self._drop_spent()
                return old
            try:
                await self._load_new(new, previous)
            except Exception:
                await self._roll_back(old, new, previous)
                raise
            self._commit(old, new)
            return old
        except BaseException:
            self._abandon()
            raise
        finally:
            self._open()
            # `botrt_plugins.<name>` must resolve to what runs now on its next import.
            self.stage.importer.forget(self.name)

    async def _first_load(self, new: LoadedPlugin) -> None:
        stage = self.stage
        try:
            await new.planner.run_on_load(None, stage.services_for(self.name))
        except BaseException:
            stage.discard(new)
            stage.forget(self.name)  # the tables the refused load declared
            raise
        stage.plugins[self.name] = new
        stage.dispatcher.replace((), new.flows)

    def _gate(self, old: LoadedPlugin, new: LoadedPlugin | None) -> int:
        dispatcher = self.stage.dispatcher
        if new is None:
            dispatcher.replace(old.flows, ())  # nothing to hand over to: no need to hold
            self._spent = old  # an unload cut short still ends the old version
        else:
            self._gate_held = dispatcher.hold(old.flows)
        return self.stage.inflight.advance()

    async def _drain(self, epoch: int) -> None:
        # Events already running on the old flows finish on them.
        await self.stage.inflight.wait_before(epoch)

    async def _unload_old(self, old: LoadedPlugin) -> Any:
        stage = self.stage
        self._spent = old
        if stage.retire is not None:
            await stage.retire(self.name)  # its background tasks end before on_unload
        previous = None
        try:
            previous = await old.planner.run_on_unload(stage.services_for(self.name))
        except Exception:
            log.exception("plugin %r: on_unload failed; its state is not handed over", self.name)
        # The next version declares its tables afresh: the old declarations must not linger.
        stage.forget(self.name)
        return previous

    async def _load_new(self, new: LoadedPlugin, previous: Any) -> None:
        await new.planner.run_on_load(previous, self.stage.services_for(self.name))

    def _commit(self, old: LoadedPlugin, new: LoadedPlugin) -> None:
        stage = self.stage
        stage.dispatcher.replace(old.flows, new.flows)
        stage.plugins[self.name] = new
        stage.discard(old)
        self._spent = self._pending = None

    async def _roll_back(self, old: LoadedPlugin, new: LoadedPlugin, previous: Any) -> None:
        stage = self.stage
        log.exception("plugin %r: on_load of %s failed; rolling back", self.name, new.version)
        stage.discard(new)
        stage.forget(self.name)  # the tables the refused version declared
        self._pending = None
        try:
            await old.planner.run_on_load(previous, stage.services_for(self.name))
        except Exception:
            log.exception(
                "plugin %r: %s could not be loaded again; the plugin no longer serves",
                self.name,
                old.version,
            )
            self._drop_spent()
            return
        self._spent = None  # it serves again, as it was

    def _drop_spent(self) -> None:
        old = self._spent
        if old is None:
            return
        stage = self.stage
        stage.dispatcher.replace(old.flows, ())
        if stage.plugins.get(self.name) is old:
            del stage.plugins[self.name]
        stage.discard(old)
        stage.forget(self.name)
        self._spent = None

    def _abandon(self) -> None:
        # Cut short (cancelled): what never served goes; the old version serves on
        # only if its on_unload had not begun.
        if self._pending is not None:
            self.stage.discard(self._pending)
            self._pending = None
        self._drop_spent()

    def _open(self) -> None:
        if self._gate_held is not None:
            self.stage.dispatcher.release(self._gate_held)
            self._gate_held = None
