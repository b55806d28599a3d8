"""The running plugins: loading, unloading and swapping them without losing an event.

Events are counted per *epoch*: every swap of the flow set starts a new
epoch, and an old version's `on_unload` waits until the events of the epochs
it served have finished. Events that arrive after a swap only ever see the
new flows, because the dispatcher's table is replaced in one step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import anyio

from botrt.handle import Dispatcher
from botrt.plugin import LoadedPlugin, PluginIssue, PluginLoadError, load_plugin
from botrt.plugin._catalog import find_clashes
from botrt.plugin._imports import PluginImporter
from botrt.plugin._loader import unload_modules

log = logging.getLogger("botrt.plugins")

LifecycleServices = Callable[[str], Mapping[type, Any]]


class PluginRuntime:
    """The set of loaded plugins and the dispatcher's view of their flows."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        services_for: LifecycleServices,
        *,
        forget: Callable[[str], None] = lambda name: None,
        retire: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self._services_for = services_for
        self._forget = forget
        self._retire = retire
        self.plugins: dict[str, LoadedPlugin] = {}
        self._generation = 0
        self._epoch = 0
        # A plain dict, not a Counter: Counter's Python-level __missing__ and
        # __delitem__ would run on every event.
        self._inflight: dict[int, int] = {}
        self._drained = anyio.Event()
        self._swaps_waiting = 0  # per-event signalling only while a swap waits
        self._lock = anyio.Lock()
        self._loading: str | None = None
        self.importer = PluginImporter(self._namespace_of, lambda: self._loading)

    def _namespace_of(self, name: str) -> str | None:
        plugin = self.plugins.get(name)
        return plugin.namespace if plugin is not None else None

    # -- in-flight accounting (called per event by the host) ------------------

    def event_started(self) -> int:
        """Count an event in; returns its epoch for `event_finished`."""
        epoch = self._epoch
        inflight = self._inflight
        inflight[epoch] = inflight.get(epoch, 0) + 1
        return epoch

    def event_finished(self, epoch: int) -> None:
        """Count an event out."""
        left = self._inflight[epoch] - 1
        if left:
            self._inflight[epoch] = left
        else:
            del self._inflight[epoch]
            if self._swaps_waiting:
                # Set and replaced only here: every waiter of this generation wakes.
                drained, self._drained = self._drained, anyio.Event()
                drained.set()

    async def wait_events_before(self, epoch: int) -> None:
        """Wait until no event that started before `epoch` is still running."""
        while any(e < epoch for e in self._inflight):
            self._swaps_waiting += 1
            try:
                await self._drained.wait()
            finally:
                self._swaps_waiting -= 1

    # -- loading ---------------------------------------------------------------

    def _next_generation(self) -> int:
        self._generation += 1
        return self._generation

    def import_plugin(self, name: str, folder: Path) -> LoadedPlugin:
        """Import and validate `folder` as plugin `name`, beside what is running.

        :raises PluginLoadError: with every problem, including command names
            that clash with the other running plugins.
        """
        deps = self.importer.dependencies
        previous_deps = deps.pop(name, None)
        self._loading = name
        try:
            new = load_plugin(name, folder, self._next_generation())
        except PluginLoadError as exc:
            if previous_deps is not None:
                deps[name] = previous_deps
            if exc.namespace is not None:
                self._withdraw(exc.namespace)
            raise
        finally:
            self._loading = None
        others = [p for n, p in self.plugins.items() if n != name]
        clashes = [i for i in find_clashes([*others, new]) if i.plugin == name]
        if clashes:
            unload_modules(new)
            self._withdraw(new.namespace)
            raise PluginLoadError(clashes)
        return new

    async def load_all(self, folders: Mapping[str, Path]) -> list[PluginIssue]:
        """Load every plugin of `folders` (a first start); returns the problems found.

        A plugin with a problem is left out; the others run.
        """
        issues: list[PluginIssue] = []
        pending = dict(folders)
        async with self._lock:
            # A plugin importing another one (botrt_plugins.<name>) may come first in
            # folder order; it is retried after the others until no pass makes progress.
            while pending:
                waiting: dict[str, tuple[Path, list[PluginIssue]]] = {}
                for name, folder in pending.items():
                    try:
                        new = self.import_plugin(name, folder)
                    except PluginLoadError as exc:
                        if any("PluginNotLoadedError" in i.message for i in exc.issues):
                            waiting[name] = (folder, list(exc.issues))
                        else:
                            issues.extend(exc.issues)
                        continue
                    await self._start(name, folder, new, issues)
                if len(waiting) == len(pending):
                    for _, found in waiting.values():
                        issues.extend(found)
                    break
                pending = {n: f for n, (f, _) in waiting.items()}
        return issues

    async def _start(
        self, name: str, folder: Path, new: LoadedPlugin, issues: list[PluginIssue]
    ) -> None:
        try:
            await new.planner.run_on_load(None, self._services_for(name))
        except Exception as exc:
            self.discard(new)
            issues.append(PluginIssue(name, f"on_load failed: {exc!r}", str(folder)))
            log.exception("plugin %r: on_load failed", name)
            return
        self.plugins[name] = new
        self._swap((), new.flows)

    async def swap(self, name: str, new: LoadedPlugin | None) -> LoadedPlugin | None:
        """Make `new` serve in place of the running version of `name` (or unload it with None).

        The flow tables switch at once; events that reach the new flows before
        the hand-over is done wait at a gate instead of being dropped. The old
        version's `on_unload` runs once its in-flight events are done, and
        what it returns reaches the new version's `on_load`. Returns the old
        version.

        :raises Exception: whatever the new version's `on_load` raised; the
            plugin is then unloaded (the old version already handed over).
        """
        async with self._lock:
            old = self.plugins.get(name)
            if old is None:
                if new is not None:
                    await new.planner.run_on_load(None, self._services_for(name))
                    self.plugins[name] = new
                    self._swap((), new.flows)
                return None
            gate = anyio.Event()
            if new is not None:
                for f in new.flows:
                    f.gate = gate
            epoch = self._swap(old.flows, new.flows if new is not None else ())
            try:
                # Events already running on the old flows finish on them.
                await self.wait_events_before(epoch)
                if self._retire is not None:
                    await self._retire(name)  # its background tasks end before on_unload
                previous = None
                try:
                    previous = await old.planner.run_on_unload(self._services_for(name))
                except Exception:
                    log.exception("plugin %r: on_unload failed; its state is not handed over", name)
                unload_modules(old)
                self._withdraw(old.namespace)
                self._forget(name)
                del self.plugins[name]
                if new is not None:
                    try:
                        await new.planner.run_on_load(previous, self._services_for(name))
                    except BaseException:
                        self._swap(new.flows, ())
                        for f in new.flows:
                            f.retired = True
                        self.discard(new)
                        raise
                    self.plugins[name] = new
            finally:
                if new is not None:
                    for f in new.flows:
                        f.gate = None
                gate.set()
                # `botrt_plugins.<name>` must resolve to what runs now on its next import.
                self.importer.forget(name)
            return old

    def discard(self, plugin: LoadedPlugin) -> None:
        """Drop a load that never served: its modules, and what it added to other flows."""
        unload_modules(plugin)
        self._withdraw(plugin.namespace)

    def _withdraw(self, namespace: str) -> None:
        # What that load added to other plugins' flows goes with it.
        for plugin in self.plugins.values():
            for flow in plugin.flows:
                flow.withdraw(namespace)

    def _swap(self, old: Iterable[Any], new: Iterable[Any]) -> int:
        self.dispatcher.replace(old, new)
        self._epoch += 1
        return self._epoch

    async def unload_all(self) -> None:
        """Unload every plugin, running each `on_unload` (at shutdown)."""
        for name in list(reversed(self.plugins)):
            started = time.perf_counter()
            await self.swap(name, None)
            log.debug("plugin %r unloaded in %.1f ms", name, (time.perf_counter() - started) * 1e3)
