"""The host's metrics: plain counts per event, Prometheus families at scrape time, lazy imports."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest

from botrt.adapter import TextEvent
from botrt.config import parse_config
from botrt.handle import Flow, node
from botrt.host import Host
from botrt.testing import MemoryEvent

pytestmark = pytest.mark.anyio


def config(**extra: Any) -> Any:
    return parse_config(
        {"console": {"enabled": False}, "plugins": {"builtin": False, "dirs": []}, **extra},
        base_dir=".",
    )


def test_metrics_follow_the_server() -> None:
    from prometheus_client import CollectorRegistry

    assert Host(config(), entry_points=False).metrics.registry is None
    served = Host(config(server={"enabled": True}), entry_points=False)
    assert isinstance(served.metrics.registry, CollectorRegistry)
    forced = Host(config(), entry_points=False, metrics=True)
    assert isinstance(forced.metrics.registry, CollectorRegistry)


async def test_scrape_shows_the_counts() -> None:
    from prometheus_client import Counter

    @node
    async def echo(e: TextEvent) -> None:
        await e.reply(e.text)

    host = Host(config(), entry_points=False, metrics=True)
    host.dispatcher.add(Flow("echo", [echo]))
    registry = host.metrics.registry
    assert registry is not None
    plugin_counter = Counter("demo_things", "A plugin's own counter", registry=registry)
    with pytest.raises(ValueError, match="Duplicated"):
        Counter("botrt_events_handled", "clashes with the host's", registry=registry)
    await host.start()
    try:
        for i in range(3):
            await host.submit(MemoryEvent(f"m{i}", bot="b1"))  # queued (no serve): received
            await host.handle(MemoryEvent(f"h{i}", bot="b1"))
        plugin_counter.inc()
        host.metrics.botrt_plugin_reloaded(host=host, old=None, new=None, elapsed_ms=30)  # type: ignore[arg-type]
        host.metrics.botrt_reload_refused(host=host, plugin="x", issues=[])
        text = host.metrics.render().decode()
    finally:
        await host.stop()
    lines = set(text.splitlines())
    assert 'botrt_events_received_total{bot="b1",platform="memory"} 3.0' in lines
    assert 'botrt_events_handled_total{bot="b1",platform="memory"} 3.0' in lines
    assert 'botrt_event_seconds_count{platform="memory"} 3.0' in lines
    assert 'botrt_event_seconds_bucket{le="+Inf",platform="memory"} 3.0' in lines
    assert 'botrt_reloads_total{result="ok"} 1.0' in lines
    assert 'botrt_reloads_total{result="refused"} 1.0' in lines
    assert 'botrt_reload_seconds_bucket{le="0.05"} 1.0' in lines
    assert 'botrt_reload_seconds_bucket{le="0.025"} 0.0' in lines
    assert "botrt_queue_depth 3.0" in lines
    assert "demo_things_total 1.0" in lines


async def test_histogram_buckets_are_cumulative() -> None:
    from botrt.host._metrics import EVENT_BUCKETS, Histogram, _buckets

    h = Histogram(EVENT_BUCKETS)
    for value in (0.0001, 0.0005, 0.003, 20.0):
        h.observe(value)
    buckets = dict(_buckets(h))
    assert buckets["0.0005"] == 2  # a value equal to a bound is in that bucket
    assert buckets["0.0025"] == 2
    assert buckets["0.005"] == 3
    assert buckets["10.0"] == 3
    assert buckets["+Inf"] == 4
    assert h.total == pytest.approx(20.0036)


def test_a_console_bot_loads_neither_prometheus_nor_aiohttp(tmp_path: Any) -> None:
    script = textwrap.dedent(
        """
        import sys, anyio
        from botrt.config import parse_config
        from botrt.host import Host
        from botrt.testing import MemoryEvent

        async def main() -> None:
            host = Host(parse_config({"plugins": {"dirs": []}}, base_dir="."))
            assert host.metrics.registry is None
            await host.start()
            try:
                await host.handle(MemoryEvent("/help"))
            finally:
                await host.stop()

        anyio.run(main)
        loaded = sorted(m for m in sys.modules if m.startswith(("prometheus", "aiohttp")))
        print(loaded)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
