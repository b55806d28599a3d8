"""Prometheus metrics of one host, in a registry of its own (never the process-wide one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from botrt.hooks import hookimpl

if TYPE_CHECKING:
    from collections.abc import Iterator

    from botrt.host._host import Host
    from botrt.plugin import LoadedPlugin, PluginIssue

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class HostMetrics:
    """The counters and histograms ``/metrics`` shows for one host.

    Platforms add their own collectors to `registry` (VK adds API calls and
    retries); plugins' background work and the queue are read at scrape time.
    """

    def __init__(self, host: Host) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "botrt_events_received", "Events received from platforms", ["bot", "platform"],
            registry=r,
        )  # fmt: skip
        self.handled = Counter(
            "botrt_events_handled", "Events dispatched to the flows", ["bot", "platform"],
            registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "botrt_event_seconds",
            "Time from dispatch to every flow having finished with an event",
            ["platform"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=r,
        )
        self.flow_errors = Counter(
            "botrt_flow_errors", "Flow runs that raised, by plugin", ["plugin"], registry=r
        )
        self.reloads = Counter(
            "botrt_reloads", "Plugin reloads, by result (ok or refused)", ["result"], registry=r
        )
        self.reload_seconds = Histogram(
            "botrt_reload_seconds",
            "Time from a change to the new version serving",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=r,
        )
        queue = Gauge("botrt_queue_depth", "Events waiting for dispatch", registry=r)
        queue.set_function(host.queue_depth)
        r.register(_PluginCollector(host))
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}

    def children(self, bot: str, platform: str) -> tuple[Any, Any]:
        """The handled counter and latency histogram for one bot, looked up once."""
        key = (bot, platform)
        found = self._children.get(key)
        if found is None:
            found = (self.handled.labels(bot, platform), self.latency.labels(platform))
            self._children[key] = found
        return found

    def render(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return generate_latest(self.registry)

    @hookimpl
    def botrt_plugin_reloaded(
        self, host: Host, old: LoadedPlugin, new: LoadedPlugin, elapsed_ms: float
    ) -> None:
        """Count a successful reload and its duration."""
        self.reloads.labels("ok").inc()
        self.reload_seconds.observe(elapsed_ms / 1000)

    @hookimpl
    def botrt_reload_refused(self, host: Host, plugin: str, issues: list[PluginIssue]) -> None:
        """Count a refused reload."""
        self.reloads.labels("refused").inc()


class _PluginCollector(Collector):
    """Per-plugin state read when scraped: which plugins run and their background work."""

    def __init__(self, host: Host) -> None:
        self._host = host

    def collect(self) -> Iterator[GaugeMetricFamily]:
        plugins = GaugeMetricFamily(
            "botrt_plugin_info", "Running plugins (value 1)", labels=["plugin", "version"]
        )
        tasks = GaugeMetricFamily(
            "botrt_background_tasks", "Background tasks running, by plugin", labels=["plugin"]
        )
        for name, plugin in self._host.runtime.plugins.items():
            plugins.add_metric([name, plugin.version], 1)
            tasks.add_metric([name], self._host.background.running(name))
        yield plugins
        yield tasks
