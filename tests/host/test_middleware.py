"""Middleware that wraps: event middleware (packages) around every event, flow middleware
(packages, then a plugin's own) around each flow run, with the run's outcome (SPEC §11)."""

from __future__ import annotations

import textwrap
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import pytest

from botrt.adapter import Event, TextEvent
from botrt.config import parse_config
from botrt.handle import Flow, Outcome, on_command
from botrt.hooks import hookimpl
from botrt.host import Host
from botrt.testing import MemoryEvent

pytestmark = pytest.mark.anyio

REQUEST: ContextVar[str] = ContextVar("request")

PLUGIN = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import block, on_command, stop

PLUGIN = PluginPlanner("1.0.0")
LOG = []


@PLUGIN.middleware
async def mine(event, flow, call_next):
    LOG.append(f"plugin before {flow.name}")
    outcome = await call_next()
    LOG.append(f"plugin after {flow.name}: {outcome}")


@PLUGIN.use
@on_command("ok")
async def ok(event: TextEvent) -> None:
    LOG.append("ok runs")
    await event.reply("fine")


@PLUGIN.use
@on_command("boom")
async def boom(event: TextEvent) -> None:
    raise RuntimeError("boom")


@PLUGIN.use
@on_command("halt")
async def halt(event: TextEvent) -> None:
    await stop()


@PLUGIN.use
@on_command("wall", priority=5)
async def wall(event: TextEvent) -> None:
    await block()
"""


class Package:
    """What a package registers through the `botrt` entry points."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    @hookimpl
    def botrt_event_middleware(self, host: Any) -> Any:
        async def outer(event: Event, call_next: Callable[[], Awaitable[None]]) -> None:
            assert isinstance(event, TextEvent)
            if event.text == "/drop":
                self.log.append("dropped")
                return
            self.log.append("outer before")
            token = REQUEST.set(f"request of {event.user_id}")
            try:
                await call_next()
            finally:
                REQUEST.reset(token)
            self.log.append("outer after")

        return outer

    @hookimpl
    def botrt_flow_middleware(self, host: Any) -> Any:
        async def inner(
            event: Event, flow: Flow, call_next: Callable[[], Awaitable[Outcome]]
        ) -> None:
            self.log.append(f"package before {flow.name}")
            outcome = await call_next()
            self.log.append(f"package after {flow.name}: {outcome}")

        return inner


def make_host(tmp_path: Path, log: list[str]) -> Host:
    (tmp_path / "plugins" / "wrapped").mkdir(parents=True)
    (tmp_path / "plugins" / "wrapped" / "__plugin__.py").write_text(
        textwrap.dedent(PLUGIN), encoding="utf-8"
    )
    config = parse_config(
        {
            "console": {"enabled": False},
            "storage": {"url": "sqlite:///:memory:"},
            "plugins": {"builtin": False, "dirs": [str(tmp_path / "plugins")]},
        },
        base_dir=tmp_path,
    )
    return Host(config, entry_points=False, hook_modules=(Package(log),))


def plugin_log(host: Host) -> list[str]:
    import sys

    loaded = host.runtime.plugins["wrapped"]
    return sys.modules[f"{loaded.namespace}.__plugin__"].LOG  # type: ignore[no-any-return]


async def test_middleware_order_and_outcomes(tmp_path: Path) -> None:
    log: list[str] = []
    async with make_host(tmp_path, log) as host:
        mine = plugin_log(host)
        ok = MemoryEvent("/ok")
        await host.handle(ok)
        assert ok.replies == ["fine"]
        assert log == ["outer before", "package before ok", "package after ok: ok", "outer after"]
        assert mine == ["plugin before ok", "ok runs", "plugin after ok: ok"]
        for text, name, outcome in [
            ("/boom", "boom", Outcome.ERROR),
            ("/halt", "halt", Outcome.STOPPED),
            ("/wall", "wall", Outcome.BLOCKED),
        ]:
            log.clear()
            mine.clear()
            await host.handle(MemoryEvent(text))
            assert log[1:3] == [f"package before {name}", f"package after {name}: {outcome}"]
            assert mine == [f"plugin before {name}", f"plugin after {name}: {outcome}"]


async def test_an_event_middleware_drops_and_sets_context_for_the_flows(tmp_path: Path) -> None:
    log: list[str] = []
    seen: list[str] = []

    @on_command("whoami")
    async def whoami(event: TextEvent) -> None:
        seen.append(REQUEST.get("unset"))

    async with make_host(tmp_path, log) as host:
        host.dispatcher.add(whoami)
        await host.handle(MemoryEvent("/whoami", user_id=7))
        assert seen == ["request of 7"]
        dropped = MemoryEvent("/drop")
        handled: list[bool] = []
        dropped.on_handled = lambda: handled.append(True)
        log.clear()
        await host.handle(dropped)
        assert log == ["dropped"]  # no flow ran, the flow middleware included
        assert dropped.replies == []
        assert handled == [True]  # a dropped event counts as handled (the inbox marks it)


async def test_no_middleware_means_nothing_is_wired(tmp_path: Path) -> None:
    config = parse_config(
        {"console": {"enabled": False}, "plugins": {"builtin": False, "dirs": []}},
        base_dir=tmp_path,
    )
    async with Host(config, entry_points=False) as host:
        assert host._outer is None
        assert host.dispatcher.middleware == ()
