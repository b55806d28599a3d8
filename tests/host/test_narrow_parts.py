"""The host's parts work from what they are given, without a `Host`."""

from __future__ import annotations

from botrt.host._metrics import HostMetrics, PluginGauge


def test_host_metrics_read_only_the_callables_they_are_given() -> None:
    depth = [7]
    metrics = HostMetrics(
        queue_depth=lambda: depth[0],
        plugins=lambda: [PluginGauge("echo", "1.0", 2)],
        enabled=True,
    )
    text = metrics.render().decode()
    assert "botrt_queue_depth 7.0" in text
    assert 'botrt_plugin_info{plugin="echo",version="1.0"} 1.0' in text
    assert 'botrt_background_tasks{plugin="echo"} 2.0' in text
    depth[0] = 0
    assert "botrt_queue_depth 0.0" in metrics.render().decode()
