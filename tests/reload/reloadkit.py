"""A running host with a real watcher over real plugin files, and an observer of reloads."""

from __future__ import annotations

import os
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from botrt.config import load_config
from botrt.hooks import hookimpl
from botrt.host import Host
from botrt.host._reload import Reloader
from botrt.testing import MemoryEvent

VERSIONED = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command

PLUGIN = PluginPlanner(version="{version}")


@PLUGIN.use
@on_command("{command}")
async def answer(event: TextEvent) -> None:
    await event.reply("{reply}")
"""


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def versioned(version: str, *, command: str = "ver", reply: str | None = None) -> str:
    return VERSIONED.format(version=version, command=command, reply=reply or version)


@dataclass
class Observer:
    """Records the host's reload hooks; tests wait on them instead of sleeping."""

    log: list[tuple[str, Any, ...]] = field(default_factory=list)
    _changed: anyio.Event = field(default_factory=anyio.Event)
    _cursor: dict[str, int] = field(default_factory=dict)

    def _add(self, *entry: Any) -> None:
        self.log.append(entry)
        self._changed.set()
        self._changed = anyio.Event()

    @hookimpl
    def botrt_plugin_loaded(self, host: Host, plugin: Any) -> None:
        self._add("loaded", plugin.name, plugin.version)

    @hookimpl
    def botrt_plugin_reloaded(self, host: Host, old: Any, new: Any, elapsed_ms: float) -> None:
        self._add("reloaded", new.name, new.version)

    @hookimpl
    def botrt_plugin_unloaded(self, host: Host, plugin: Any) -> None:
        self._add("unloaded", plugin.name, plugin.version)

    @hookimpl
    def botrt_reload_refused(self, host: Host, plugin: str, issues: list[Any]) -> None:
        self._add("refused", plugin, [str(i) for i in issues])

    async def next(self, kind: str, limit: float = 15) -> tuple[Any, ...]:
        """The next entry of `kind` not returned yet (waits for it to happen)."""
        seen = self._cursor.get(kind, 0)
        with anyio.fail_after(limit):
            while True:
                matching = [e for e in self.log if e[0] == kind]
                if len(matching) > seen:
                    self._cursor[kind] = seen + 1
                    return matching[seen]
                await self._changed.wait()

    def consume_all(self) -> None:
        """Mark everything logged so far as seen."""
        for kind in {e[0] for e in self.log}:
            self._cursor[kind] = self.count(kind)

    def count(self, kind: str) -> int:
        return sum(1 for e in self.log if e[0] == kind)


@dataclass
class Bot:
    root: Path
    host: Host
    reloader: Reloader
    observer: Observer

    @property
    def plugins(self) -> Path:
        return self.root / "plugins"

    async def send(self, text: str, *, role: str = "member") -> list[str]:
        event = MemoryEvent(text, role=role)
        await self.host.handle(event)
        return event.replies

    def write(self, rel: str, source: str) -> Path:
        path = self.plugins / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
        return path

    def write_atomically(self, rel: str, source: str) -> Path:
        path = self.plugins / rel
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
        os.replace(tmp, path)
        return path


@asynccontextmanager
async def running_bot(root: Path, files: dict[str, str], *, toml: str = "") -> AsyncIterator[Bot]:
    """A host over `root/plugins` with the reloader watching; yields once the watcher is live."""
    (root / "plugins").mkdir(parents=True, exist_ok=True)
    for rel, source in files.items():
        path = root / "plugins" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    config_path = root / "bot.toml"
    config_path.write_text(
        '[plugins]\ndirs = ["plugins"]\nbuiltin = false\n[console]\nenabled = false\n'
        '[storage]\nurl = "sqlite:///:memory:"\n' + toml,
        encoding="utf-8",
    )
    observer = Observer()
    host = Host(load_config(config_path), entry_points=False, hook_modules=(observer,))
    issues = await host.start()
    assert not issues, issues
    observer.consume_all()  # the start-up loads are not what tests wait for
    reloader = Reloader(host)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(reloader.run)
            await _handshake(root / "plugins", reloader)
            yield Bot(root, host, reloader, observer)
            tg.cancel_scope.cancel()
    finally:
        await host.stop()


async def _handshake(plugins: Path, reloader: Reloader) -> None:
    # The watcher starts asynchronously; touch a file outside every plugin
    # until a change set comes through, so later edits cannot be missed.
    marker = plugins / "watch-ready.txt"
    with anyio.fail_after(20):
        for attempt in range(1000):
            marker.write_text(str(attempt), encoding="utf-8")
            with anyio.move_on_after(0.3):
                await reloader.wait_batches(1)
                return
