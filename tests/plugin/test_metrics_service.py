"""Plugins' own metrics: injected `Metrics`, scraped from /metrics, kept across a reload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from pluginkit import write_plugin

from botrt.config import parse_config
from botrt.host import Host
from botrt.host._reload import Reloader
from botrt.plugin import MetricError
from botrt.plugin._metrics import PluginMetricsHub
from botrt.testing import MemoryEvent

pytestmark = pytest.mark.anyio

COUNTING = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command
from botrt.plugin import Metrics

PLUGIN = PluginPlanner(version="{version}")


@PLUGIN.use
@on_command("count")
async def count(event: TextEvent, metrics: Metrics) -> None:
    metrics.counter("hits", "Times /count ran", ["version"]).labels("{version}").inc()
    metrics.gauge("last", "The version that answered last").set({version})
    await event.reply("counted")
"""


def config(tmp_path: Path, *, server: bool) -> Any:
    return parse_config(
        {
            "console": {"enabled": False},
            "server": {"enabled": server, "host": "127.0.0.1", "port": 0},
            "plugins": {"builtin": False, "dirs": ["plugins"]},
            "storage": {"url": "sqlite:///:memory:"},
        },
        base_dir=tmp_path,
    )


@asynccontextmanager
async def serving(host: Host) -> AsyncIterator[Host]:
    await host.start()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: host.serve(signals=False))
            yield host
            host.request_stop()
    finally:
        await host.stop()


async def scrape(host: Host) -> set[str]:
    with anyio.fail_after(10):
        while host.web.runner is None:
            await anyio.lowlevel.checkpoint()
    url = f"http://127.0.0.1:{host.web.port}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return set((await response.text()).splitlines())


async def test_plugin_metrics_are_scraped_and_survive_a_reload(tmp_path: Path) -> None:
    folder = write_plugin(
        tmp_path / "plugins", "counting", {"__plugin__.py": COUNTING.format(version=1)}
    )
    async with serving(Host(config(tmp_path, server=True), entry_points=False)) as host:
        for _ in range(2):
            await host.handle(MemoryEvent("/count"))
        write_plugin(
            tmp_path / "plugins", "counting", {"__plugin__.py": COUNTING.format(version=2)}
        )
        assert await Reloader(host).reload("counting", folder)
        await host.handle(MemoryEvent("/count"))
        lines = await scrape(host)
    assert 'botrt_counting_hits_total{version="1"} 2.0' in lines
    assert 'botrt_counting_hits_total{version="2"} 1.0' in lines
    assert "botrt_counting_last 2.0" in lines
    assert "# HELP botrt_counting_hits_total Times /count ran" in lines


async def test_without_a_server_metrics_do_nothing(tmp_path: Path) -> None:
    write_plugin(tmp_path / "plugins", "counting", {"__plugin__.py": COUNTING.format(version=1)})
    host = Host(config(tmp_path, server=False), entry_points=False)
    await host.start()
    try:
        event = MemoryEvent("/count")
        await host.handle(event)
    finally:
        await host.stop()
    assert event.replies == ["counted"]
    null = PluginMetricsHub(lambda: None).for_plugin("p").counter("n", "doc", ["k"])
    null.labels("x").inc()  # accepted, and nothing to show for it
    assert not hasattr(null, "collect")


def hub() -> PluginMetricsHub:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    return PluginMetricsHub(lambda: registry)


def test_bad_names_and_clashes_are_refused_with_the_plugin_named() -> None:
    h = hub()
    with pytest.raises(MetricError, match=r"plugin 'a': metric name '9lives'"):
        h.for_plugin("a").counter("9lives", "doc")
    with pytest.raises(MetricError, match=r"bad label name 'no-dash'"):
        h.for_plugin("a").gauge("ok", "doc", ["no-dash"])
    h.for_plugin("a").counter("b_c", "doc")
    with pytest.raises(MetricError, match=r"already registered by plugin 'a'"):
        h.for_plugin("a_b").counter("c", "doc")


def test_a_changed_metric_starts_over_and_an_unchanged_one_is_the_same() -> None:
    h = hub()
    first = h.for_plugin("p").counter("n", "doc")
    assert h.for_plugin("p").counter("n", "doc") is first
    relabelled = h.for_plugin("p").counter("n", "doc", ["kind"])
    assert relabelled is not first
    assert h.for_plugin("p").gauge("n", "doc") is not relabelled
