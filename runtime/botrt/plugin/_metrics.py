"""Plugins' own counters and gauges, shown on the host's ``/metrics`` beside botrt's."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from botrt._errors import BotrtError

_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


class MetricError(BotrtError, ValueError):
    """A plugin asked for a metric botrt cannot register (bad name, clash).

    Attributes:
        plugin: the plugin that asked.
        metric: the metric name it asked for.
    """

    def __init__(self, message: str, *, plugin: str, metric: str) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.metric = metric


class PluginMetricsHub:
    """Every plugin's metrics of one host, kept across reloads.

    A new version of a plugin asking for the metric the old version had (same
    name, kind and labels) gets the same object back, so counters keep
    counting through a reload instead of dropping to zero.

    `registry` returns the host's prometheus ``CollectorRegistry``, or
    ``None`` while metrics are off (no ``[server]``): then every metric is a
    no-op and prometheus is never imported.
    """

    def __init__(self, registry: Callable[[], Any]) -> None:
        self._registry = registry
        self._metrics: dict[str, tuple[str, str, tuple[str, ...], Any]] = {}

    def for_plugin(self, plugin: str) -> Metrics:
        """The `Metrics` service of one plugin."""
        return Metrics(plugin, self)

    def get(
        self, plugin: str, kind: str, name: str, documentation: str, labels: Sequence[str]
    ) -> Any:
        """The metric `name` of `plugin`, created on first use (see `Metrics`)."""
        if not _NAME.match(name):
            raise MetricError(
                f"plugin {plugin!r}: metric name {name!r} must be letters, digits and "
                "underscores, not starting with a digit",
                plugin=plugin,
                metric=name,
            )
        for label in labels:
            if not _NAME.match(label) or label.startswith("__"):
                raise MetricError(
                    f"plugin {plugin!r}: metric {name!r}: bad label name {label!r}",
                    plugin=plugin,
                    metric=name,
                )
        full = f"botrt_{re.sub(r'[^a-zA-Z0-9_]', '_', plugin)}_{name}"
        labels = tuple(labels)
        known = self._metrics.get(full)
        if known is not None:
            owner, known_kind, known_labels, metric = known
            if owner != plugin:
                raise MetricError(
                    f"plugin {plugin!r}: metric {name!r} is {full}, already registered by "
                    f"plugin {owner!r}; choose another name",
                    plugin=plugin,
                    metric=name,
                )
            if known_kind == kind and known_labels == labels:
                return metric
        registry = self._registry()
        if registry is None:
            return _NullMetric()
        if known is not None:
            # The plugin changed the metric's kind or labels in a new version:
            # the old series cannot be continued, so they start over.
            registry.unregister(known[3])
        metric = self._create(registry, kind, full, documentation, labels, (plugin, name))
        self._metrics[full] = (plugin, kind, labels, metric)
        return metric

    @staticmethod
    def _create(
        registry: Any,
        kind: str,
        full: str,
        doc: str,
        labels: tuple[str, ...],
        asked: tuple[str, str],  # the plugin and the name it gave, for the error
    ) -> Any:
        from prometheus_client import Counter, Gauge

        cls = Counter if kind == "counter" else Gauge
        try:
            return cls(full, doc, labels, registry=registry)
        except ValueError as exc:  # the name clashes with one of botrt's own
            plugin, name = asked
            raise MetricError(
                f"plugin {plugin!r}: cannot register {full}: {exc}", plugin=plugin, metric=name
            ) from None


class Metrics:
    """A plugin's own metrics on ``/metrics`` (annotate a parameter with `Metrics`).

    Names are prefixed with ``botrt_<plugin>_``: in the plugin ``broadcast``,
    ``metrics.counter("recipients", "…", ["outcome"])`` is
    ``botrt_broadcast_recipients_total{outcome="…"}``. The objects returned
    are prometheus-client's ``Counter`` and ``Gauge`` (``inc``, ``dec``,
    ``set``, ``labels(...)``). Asking again for the same name, kind and
    labels, in this version or the next one after a reload, returns the same
    metric. Without a ``[server]`` nothing is scraped and the metrics do
    nothing.
    """

    def __init__(self, plugin: str, hub: PluginMetricsHub) -> None:
        self.plugin = plugin
        self._hub = hub

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Any:
        """A counter (only goes up), exposed as ``botrt_<plugin>_<name>_total``.

        :raises MetricError: a bad name or label, or a name another plugin holds.
        """
        return self._hub.get(self.plugin, "counter", name, documentation, labels)

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Any:
        """A gauge (a value that goes up and down), exposed as ``botrt_<plugin>_<name>``.

        :raises MetricError: a bad name or label, or a name another plugin holds.
        """
        return self._hub.get(self.plugin, "gauge", name, documentation, labels)


class _NullMetric:
    """What a metric is while nothing can scrape it."""

    def labels(self, *values: object, **named: object) -> _NullMetric:
        return self

    def inc(self, amount: float = 1) -> None:
        pass

    def dec(self, amount: float = 1) -> None:
        pass

    def set(self, value: float) -> None:
        pass
