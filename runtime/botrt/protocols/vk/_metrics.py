"""VK API counters for ``/metrics``: calls by method, retries by cause, errors by code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from botrt.protocols.vk._adapters import VkPlatform


class VkApiCollector(Collector):
    """Reads every bot's `VkApi.stats` when scraped (no work per call)."""

    def __init__(self, platform: VkPlatform) -> None:
        self._platform = platform

    def collect(self) -> Iterator[CounterMetricFamily]:
        requests = CounterMetricFamily(
            "botrt_vk_api_requests", "HTTP requests to the VK API, retries included", labels=["bot"]
        )
        calls = CounterMetricFamily(
            "botrt_vk_api_calls", "VK API calls by method", labels=["bot", "method"]
        )
        retries = CounterMetricFamily(
            "botrt_vk_api_retries", "VK API retries by cause", labels=["bot", "cause"]
        )
        errors = CounterMetricFamily(
            "botrt_vk_api_errors", "VK API errors raised, by code", labels=["bot", "code"]
        )
        for bot, api in self._platform.apis.items():
            stats = api.stats
            requests.add_metric([bot], stats.requests)
            for method, count in stats.calls.items():
                calls.add_metric([bot, method], count)
            for cause, count in stats.retries.items():
                retries.add_metric([bot, str(cause)], count)
            for code, count in stats.errors.items():
                errors.add_metric([bot, str(code)], count)
        yield requests
        yield calls
        yield retries
        yield errors
