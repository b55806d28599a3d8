"""The metrics of one host: plain counts on the hot path, Prometheus families when scraped.

Counting an event is a few integer additions on plain Python objects: no
prometheus-client call, no lock, no label lookup per event. The counts are
turned into Prometheus metric families only when ``/metrics`` is scraped, by
collectors registered in the host's own `CollectorRegistry` (never the
process-wide one). prometheus-client is imported only when the registry is
made: a console-only bot (no ``[server]``, nothing can scrape) never loads it.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from typing import TYPE_CHECKING, Any, NamedTuple

from botrt.hooks import hookimpl

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from prometheus_client import CollectorRegistry

    from botrt.plugin import LoadedPlugin, PluginIssue

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

EVENT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
"""Upper bounds (seconds) of ``botrt_event_seconds``."""
RELOAD_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
"""Upper bounds (seconds) of ``botrt_reload_seconds``."""


class PluginGauge(NamedTuple):
    """What ``/metrics`` shows of one running plugin, read when scraped."""

    name: str
    version: str
    background_tasks: int


class Histogram:
    """Counts of observations per bucket (not cumulative; the last is +Inf) and their sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one observation (Prometheus buckets are ``value <= bound``)."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value


class Source:
    """The counts of one (bot, platform): events received and handled, and their latency.

    Attributes:
        received: events submitted by the platform's adapter.
        handled: events dispatched to the flows (finished).
        latency: the platform's latency histogram (shared by its bots).
    """

    __slots__ = ("created", "handled", "latency", "received")

    def __init__(self, latency: Histogram) -> None:
        self.received = 0
        self.handled = 0
        self.latency = latency
        self.created = time.time()  # the counters' `_created` series

    def done(self, seconds: float) -> None:
        """Count one handled event that took `seconds`."""
        self.handled += 1
        latency = self.latency
        latency.counts[bisect_left(EVENT_BUCKETS, seconds)] += 1
        latency.total += seconds


class HostMetrics:
    """The counts ``/metrics`` shows for one host.

    Platforms add their own collectors to `registry` (VK adds API calls and
    retries); plugins' background work and the queue are read at scrape time.
    `registry` is None when metrics are off (nothing can scrape them); the
    counts are still kept (they are cheap), and `render` still works.

    Attributes:
        registry: the host's Prometheus registry, or None when metrics are off.
        sources: the counts per (bot, platform).
        flow_errors: flow runs that raised, by plugin (``-`` outside plugins).
        flood_dropped: messages ignored under ``[bot] flood``, by bot.
        reloads: plugin reloads by result (``ok`` or ``refused``).
        reload_seconds: how long the successful reloads took.
    """

    def __init__(
        self,
        *,
        queue_depth: Callable[[], int],
        plugins: Callable[[], Iterable[PluginGauge]],
        enabled: bool = True,
    ) -> None:
        self._queue_depth = queue_depth
        self._plugins = plugins
        self.sources: dict[tuple[str, str], Source] = {}
        self.latency: dict[str, Histogram] = {}
        self.flow_errors: dict[str, int] = {}
        self.flood_dropped: dict[str, int] = {}
        self.reloads: dict[str, int] = {}
        self._created: dict[tuple[str, str], float] = {}  # (metric, label) -> first count
        self.reload_seconds = Histogram(RELOAD_BUCKETS)
        self.registry: CollectorRegistry | None = self._make_registry() if enabled else None

    def _make_registry(self) -> CollectorRegistry:
        from prometheus_client import CollectorRegistry

        registry = CollectorRegistry()
        registry.register(_HostCollector(self))
        registry.register(_PluginCollector(self._plugins))
        return registry

    def source(self, bot: str, platform: str) -> Source:
        """The counts of one (bot, platform), made on first use."""
        key = (bot, platform)
        found = self.sources.get(key)
        if found is None:
            latency = self.latency.get(platform)
            if latency is None:
                latency = self.latency[platform] = Histogram(EVENT_BUCKETS)
            found = self.sources[key] = Source(latency)
        return found

    def flow_error(self, plugin: str | None) -> None:
        """Count a flow run that raised."""
        name = plugin or "-"
        self.flow_errors[name] = self.flow_errors.get(name, 0) + 1
        self._created.setdefault(("flow_errors", name), time.time())

    def flooded(self, bot: str) -> None:
        """Count a message ignored because its sender was over ``[bot] flood``."""
        self.flood_dropped[bot] = self.flood_dropped.get(bot, 0) + 1
        self._created.setdefault(("flood_dropped", bot), time.time())

    def render(self) -> bytes:
        """The metrics in the Prometheus text format (metrics off: the host's own counts)."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry or self._make_registry())

    @hookimpl
    def botrt_plugin_reloaded(
        self, host: Any, old: LoadedPlugin, new: LoadedPlugin, elapsed_ms: float
    ) -> None:
        """Count a successful reload and its duration."""
        self.reloads["ok"] = self.reloads.get("ok", 0) + 1
        self._created.setdefault(("reloads", "ok"), time.time())
        self.reload_seconds.observe(elapsed_ms / 1000)

    @hookimpl
    def botrt_reload_refused(self, host: Any, plugin: str, issues: list[PluginIssue]) -> None:
        """Count a refused reload."""
        self.reloads["refused"] = self.reloads.get("refused", 0) + 1
        self._created.setdefault(("reloads", "refused"), time.time())


def _buckets(h: Histogram) -> list[tuple[str, float]]:
    from prometheus_client.utils import floatToGoString

    out: list[tuple[str, float]] = []
    running = 0
    for bound, count in zip((*h.bounds, float("inf")), h.counts, strict=True):
        running += count
        out.append((floatToGoString(bound), running))
    return out


class _HostCollector:
    """The host's counts as Prometheus families, built when scraped."""

    def __init__(self, metrics: HostMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterator[Any]:
        """The families without samples: the registry refuses others' metrics of these names."""
        return self._families(values=False)

    def collect(self) -> Iterator[Any]:
        """The families with the counts as they are now."""
        return self._families(values=True)

    def _families(self, *, values: bool) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        m = self._metrics
        empty: dict[Any, Any] = {}
        received = CounterMetricFamily(
            "botrt_events_received", "Events received from platforms", labels=["bot", "platform"]
        )
        handled = CounterMetricFamily(
            "botrt_events_handled", "Events dispatched to the flows", labels=["bot", "platform"]
        )
        for (bot, platform), source in list((m.sources if values else empty).items()):
            received.add_metric([bot, platform], source.received, created=source.created)
            handled.add_metric([bot, platform], source.handled, created=source.created)
        latency = HistogramMetricFamily(
            "botrt_event_seconds",
            "Time from dispatch to every flow having finished with an event",
            labels=["platform"],
        )
        for platform, h in list((m.latency if values else empty).items()):
            latency.add_metric([platform], _buckets(h), h.total)
        errors = CounterMetricFamily(
            "botrt_flow_errors", "Flow runs that raised, by plugin", labels=["plugin"]
        )
        for plugin, count in list((m.flow_errors if values else empty).items()):
            errors.add_metric([plugin], count, created=m._created.get(("flow_errors", plugin)))
        flood = CounterMetricFamily(
            "botrt_flood_dropped",
            "Messages ignored because their sender was over [bot] flood, by bot",
            labels=["bot"],
        )
        for bot, count in list((m.flood_dropped if values else empty).items()):
            flood.add_metric([bot], count, created=m._created.get(("flood_dropped", bot)))
        reloads = CounterMetricFamily(
            "botrt_reloads", "Plugin reloads, by result (ok or refused)", labels=["result"]
        )
        for result, count in list((m.reloads if values else empty).items()):
            reloads.add_metric([result], count, created=m._created.get(("reloads", result)))
        reload_seconds = HistogramMetricFamily(
            "botrt_reload_seconds", "Time from a change to the new version serving"
        )
        queue = GaugeMetricFamily("botrt_queue_depth", "Events waiting for dispatch")
        if values:
            reload_seconds.add_metric([], _buckets(m.reload_seconds), m.reload_seconds.total)
            queue.add_metric([], m._queue_depth())
        yield from (received, handled, latency, errors, flood, reloads, reload_seconds, queue)


class _PluginCollector:
    """Per-plugin state read when scraped: which plugins run and their background work."""

    def __init__(self, plugins: Callable[[], Iterable[PluginGauge]]) -> None:
        self._plugins = plugins

    def describe(self) -> Iterator[Any]:
        """The family names, for the registry's duplicate check (nothing is read)."""
        from prometheus_client.core import GaugeMetricFamily

        yield GaugeMetricFamily("botrt_plugin_info", "", labels=["plugin", "version"])
        yield GaugeMetricFamily("botrt_background_tasks", "", labels=["plugin"])

    def collect(self) -> Iterator[Any]:
        """The running plugins and their background tasks."""
        from prometheus_client.core import GaugeMetricFamily

        plugins = GaugeMetricFamily(
            "botrt_plugin_info", "Running plugins (value 1)", labels=["plugin", "version"]
        )
        tasks = GaugeMetricFamily(
            "botrt_background_tasks", "Background tasks running, by plugin", labels=["plugin"]
        )
        for gauge in self._plugins():
            plugins.add_metric([gauge.name, gauge.version], 1)
            tasks.add_metric([gauge.name], gauge.background_tasks)
        yield plugins
        yield tasks
