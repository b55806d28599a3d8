"""The running plugins: loading, unloading and swapping them without losing an event.

Every change of a running version goes through `_swap` (the sequence:
prepare, gate, drain, unload old, load new, open, or roll back). This module
keeps the set of plugins, serialises the swaps and loads a first start in
dependency order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import anyio

from botrt.handle import Dispatcher
from botrt.host._swap import LifecycleServices, Stage, Swap, prepare
from botrt.plugin import LoadedPlugin, PluginIssue, PluginLoadError, PluginNotLoadedError

log = logging.getLogger("botrt.plugins")


class PluginRuntime:
    """The set of loaded plugins and the dispatcher's view of their flows.

    Events are counted per *epoch* (`event_started`, `event_finished`, called
    by the host per event): a swap starts a new epoch and waits for the
    events of the epochs before it.
    """

    def __init__(
        self,
        dispatcher: Dispatcher,
        services_for: LifecycleServices,
        *,
        forget: Callable[[str], None] = lambda name: None,
        retire: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self._stage = Stage(dispatcher, services_for, forget=forget, retire=retire)
        self.plugins: dict[str, LoadedPlugin] = self._stage.plugins
        self.importer = self._stage.importer
        inflight = self._stage.inflight
        # Bound once: the host calls these for every event.
        self.event_started: Callable[[], int] = inflight.started
        self.event_finished: Callable[[int], None] = inflight.finished
        self._lock = anyio.Lock()

    async def wait_events_before(self, epoch: int) -> None:
        """Wait until no event that started before `epoch` is still running."""
        await self._stage.inflight.wait_before(epoch)

    # -- loading ---------------------------------------------------------------

    def import_plugin(self, name: str, folder: Path) -> LoadedPlugin:
        """Import and validate `folder` as plugin `name`, beside what is running.

        :raises PluginLoadError: with every problem, including command names
            that clash with the other running plugins.
        """
        return prepare(self._stage, name, folder)

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
                        if any(_needs_a_plugin(i) for i in exc.issues):
                            waiting[name] = (folder, list(exc.issues))
                        else:
                            issues.extend(exc.issues)
                        continue
                    try:
                        await Swap(self._stage, name, new).run()
                    except Exception as exc:
                        issues.append(PluginIssue(name, f"on_load failed: {exc!r}", str(folder)))
                        log.exception("plugin %r: on_load failed", name)
                if len(waiting) == len(pending):
                    for _, found in waiting.values():
                        issues.extend(found)
                    break
                pending = {n: f for n, (f, _) in waiting.items()}
        return issues

    async def swap(self, name: str, new: LoadedPlugin | None) -> LoadedPlugin | None:
        """Make `new` serve in place of the running version of `name` (or unload it with None).

        Events that reach the plugin while the versions hand over wait and
        then go to the new version; events already in flight finish on the
        old one. The old version's `on_unload` runs once those are done, and
        what it returns reaches the new version's `on_load`. Returns the old
        version.

        :raises Exception: whatever the new version's `on_load` raised; the
            swap is then rolled back and the old version serves on (see `_swap`).
        """
        async with self._lock:
            return await Swap(self._stage, name, new).run()

    def discard(self, plugin: LoadedPlugin) -> None:
        """Drop a load that never served: its modules, and what it added to other flows."""
        self._stage.discard(plugin)

    async def unload_all(self) -> None:
        """Unload every plugin, running each `on_unload` (at shutdown)."""
        for name in list(reversed(self.plugins)):
            started = time.perf_counter()
            await self.swap(name, None)
            log.debug("plugin %r unloaded in %.1f ms", name, (time.perf_counter() - started) * 1e3)


def _needs_a_plugin(issue: PluginIssue) -> bool:
    """Whether `issue` is an import of a plugin that is not running (yet)."""
    return issue.error is not None and issubclass(issue.error, PluginNotLoadedError)
