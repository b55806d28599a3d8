"""Hot reload: watch plugin folders and ``bot.toml``; reload what changed, transactionally."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from watchfiles import DefaultFilter, awatch

from botrt.config import (
    BotConfig,
    ConfigError,
    diagnose_settings,
    diagnose_setup,
    load_config,
    restart_needed,
)
from botrt.config._internal import read_toml
from botrt.plugin import PluginIssue, PluginLoadError
from botrt.plugin._internal import builtin_plugins_dir, discover

if TYPE_CHECKING:
    from botrt.host._host import Host

log = logging.getLogger("botrt.reload")

# The watcher thread only notices cancellation when its wait times out: a short
# timeout keeps `botrt serve` from hanging for seconds on shutdown.
RUST_TIMEOUT_MS = 200


class _PluginFilter(DefaultFilter):
    """watchfiles' default ignores (VCS folders, __pycache__, swap files) plus editor leftovers."""

    ignore_entity_patterns = (
        *DefaultFilter.ignore_entity_patterns,
        r"^\.#",  # emacs lock files
        r"^4913$",  # vim's write test file
        r"\.tmp$",
        r"\.pyc$",
    )


class Reloader:
    """Watches the plugin folders and ``bot.toml`` and applies changes to a running host.

    A burst of file events (an editor's temp file + rename) is grouped into
    one change set (watchfiles waits `step_ms` of quiet). Each plugin touched
    is imported beside the running version, validated, and swapped in; a
    broken version is refused and the old one keeps serving.
    """

    def __init__(self, host: Host, *, step_ms: int = 50, debounce_ms: int = 1600) -> None:
        self.host = host
        self.step_ms = step_ms
        self.debounce_ms = debounce_ms
        self.stop_event = anyio.Event()
        self.batches = 0  # change sets applied so far, for observers (tests, metrics)
        self._cascade: set[str] = set()  # plugins whose dependents are being reloaded
        # One event per change set: only `_applied` sets and replaces it, so every
        # waiter of a generation wakes, however many there are.
        self._batch_applied = anyio.Event()

    async def wait_batches(self, count: int) -> None:
        """Wait until at least `count` change sets have been applied."""
        while self.batches < count:
            await self._batch_applied.wait()

    def _applied(self) -> None:
        self.batches += 1
        applied, self._batch_applied = self._batch_applied, anyio.Event()
        applied.set()

    def plugin_roots(self) -> list[Path]:
        """The folders watched for plugin changes."""
        p = self.host.config.plugins
        roots = [d.resolve() for d in p.dirs if d.is_dir()]
        builtin = builtin_plugins_dir() if p.builtin else None
        if builtin is not None and builtin.is_dir():
            roots.append(builtin.resolve())
        return list(dict.fromkeys(roots))

    async def run(self) -> None:
        """Watch until cancelled."""
        async with anyio.create_task_group() as tg:
            roots = self.plugin_roots()
            if roots:
                tg.start_soon(self._watch_plugins, roots)
            config_path = self.host.config.path
            if config_path is not None and config_path.parent.is_dir():
                tg.start_soon(self._watch_config, config_path)

    async def _watch_plugins(self, roots: list[Path]) -> None:
        # Logged just before the first iteration, which creates the OS watches with no
        # await in between: once this line is out, no save can be missed.
        log.info("reload: watching %s", ", ".join(str(r) for r in roots))
        async for changes in awatch(
            *roots,
            watch_filter=_PluginFilter(),
            step=self.step_ms,
            debounce=self.debounce_ms,
            stop_event=self.stop_event,
            recursive=True,
            rust_timeout=RUST_TIMEOUT_MS,
        ):
            await self.apply([Path(p) for _, p in changes])
            self._applied()

    async def _watch_config(self, path: Path) -> None:
        async for changes in awatch(
            path.parent,
            step=self.step_ms,
            debounce=self.debounce_ms,
            stop_event=self.stop_event,
            recursive=False,
            rust_timeout=RUST_TIMEOUT_MS,
        ):
            if any(Path(p).name == path.name for _, p in changes):
                await self.apply_config(path)
                self._applied()

    # -- applying changes --------------------------------------------------------

    async def apply(self, changed: Iterable[Path], *, load_new: bool = False) -> None:
        """Bring the running plugins in line with the folders after `changed` paths changed.

        A plugin that is not running loads when its files changed (a new
        folder, or a fix to one refused earlier), or with `load_new` (it was
        just enabled).
        """
        changed = [p.resolve() if p.exists() else p for p in changed]
        runtime = self.host.runtime
        folders = self.host.plugin_folders()
        running = dict(runtime.plugins)
        for name in [n for n in running if n not in folders]:
            await self.unload(name)
        for name, folder in folders.items():
            current = running.get(name)
            moved = current is not None and current.folder != folder
            if current is None or moved or _touches(changed, folder):
                if current is None and not load_new and not _touches(changed, folder):
                    continue  # a plugin refused earlier: retried only when its files change
                await self.reload(name, folder)

    async def reload(self, name: str, folder: Path) -> bool:
        """Import `folder` as the new version of `name` and swap it in; False when refused."""
        started = time.perf_counter()
        runtime = self.host.runtime
        old = runtime.plugins.get(name)
        old_version = old.version if old is not None else "(none)"
        try:
            new = runtime.import_plugin(name, folder)
        except PluginLoadError as exc:
            self._refused(name, list(exc.issues), started)
            return False
        try:
            await runtime.swap(name, new)
        except BaseException as exc:
            if runtime.plugins.get(name) is not new:
                # Cancelled while waiting for another swap: the imported modules
                # must not stay behind in sys.modules (the swap drops them itself).
                runtime.discard(new)
            if not isinstance(exc, Exception):
                raise
            # on_load failed: the swap rolled back, the old version serves on.
            issue = PluginIssue(name, f"on_load failed: {exc!r}", str(folder), error=type(exc))
            self._refused(name, [issue], started)
            return False
        ms = (time.perf_counter() - started) * 1e3
        if old is None:
            log.info("reload: %s loaded (%s) in %.0f ms", name, new.version, ms)
            self.host.pm.hook.botrt_plugin_loaded(host=self.host, plugin=new)
        else:
            log.info("reload: %s %s -> %s in %.0f ms", name, old_version, new.version, ms)
            self.host.pm.hook.botrt_plugin_reloaded(host=self.host, old=old, new=new, elapsed_ms=ms)
        await self._reload_dependents(name)
        return True

    async def _reload_dependents(self, name: str) -> None:
        # Plugins that import `name` hold references to its old modules: reload them after it.
        runtime = self.host.runtime
        self._cascade.add(name)
        try:
            for dependent in runtime.importer.direct_dependents(name):
                plugin = runtime.plugins.get(dependent)
                if plugin is not None and dependent not in self._cascade:
                    log.info("reload: %s imports %s, reloading it too", dependent, name)
                    await self.reload(dependent, plugin.folder)
        finally:
            self._cascade.discard(name)

    async def unload(self, name: str) -> None:
        """Unload a running plugin (its folder went away or it was disabled)."""
        old = await self.host.runtime.swap(name, None)
        if old is not None:
            log.info("reload: %s %s unloaded", name, old.version)
            self.host.pm.hook.botrt_plugin_unloaded(host=self.host, plugin=old)

    def _refused(self, name: str, issues: list[PluginIssue], started: float) -> None:
        ms = (time.perf_counter() - started) * 1e3
        log.error(
            "reload: %s refused after %.0f ms, the running version keeps serving: %s",
            name,
            ms,
            "; ".join(str(i) for i in issues),
        )
        self.host.pm.hook.botrt_reload_refused(host=self.host, plugin=name, issues=issues)

    async def apply_config(self, path: Path) -> None:
        """Apply a ``bot.toml`` edit: live settings now, the rest logged as needing a restart."""
        try:
            new = load_config(path, missing_ok=False)
        except ConfigError as exc:
            log.error("bot.toml change refused, the running settings stay:\n%s", exc)
            return
        if not self._sound(new, path):
            return
        old = self.host.config
        needs_restart = restart_needed(old, new)
        if needs_restart:
            log.warning(
                "bot.toml: %s changed; restart `botrt serve` to apply (running values kept)",
                ", ".join(needs_restart),
            )
        # Only the live keys change; the rest keeps its running value until a restart.
        self.host.config = dataclasses.replace(
            old,
            bot=dataclasses.replace(old.bot, prefixes=new.bot.prefixes, admins=new.bot.admins),
            plugins=dataclasses.replace(
                old.plugins,
                enabled=new.plugins.enabled,
                disabled=new.plugins.disabled,
                settings=new.plugins.settings,
            ),
        )
        self.host.dispatcher.prefixes = new.bot.prefixes
        log.info("bot.toml: live settings applied")
        await self.apply([], load_new=True)

    def _sound(self, new: BotConfig, path: Path) -> bool:
        """Whether edit `new` passes what `botrt check` asks of a setup; logs why not.

        The running plugins' declared settings are checked against the new
        tables, so ``lessons = 5`` is refused live as it is at start-up.
        """
        p = new.plugins
        builtin = builtin_plugins_dir() if p.builtin else None
        try:
            written = read_toml(path, missing_ok=True) or {}
        except ConfigError:
            written = {}
        found = diagnose_setup(new, written, discover(p.dirs, builtin), builtin)
        settings = diagnose_settings(new, self.host.runtime.plugins.values())
        errors = found.errors + settings.errors
        for warning in found.warnings + settings.warnings:
            log.warning("bot.toml: %s", warning)
        if errors:
            log.error(
                "bot.toml change refused, the running settings stay:\n%s",
                "\n".join(issue.render(str(path)) for issue in errors),
            )
            return False
        return True


def _touches(changed: Iterable[Path], folder: Path) -> bool:
    for p in changed:
        try:
            p.relative_to(folder)
        except ValueError:
            continue
        return True
    return False
