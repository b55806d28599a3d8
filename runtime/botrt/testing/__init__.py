"""Testing kit: run flows and plugins with no network, and VK offline with `FakeVK`."""

from __future__ import annotations

from typing import Any

from botrt.testing._clock import ManualClock
from botrt.testing._host import TestHost, TestHostError
from botrt.testing._memory import MemoryEvent, MemoryOutbound

__all__ = ["FakeVK", "ManualClock", "MemoryEvent", "MemoryOutbound", "TestHost", "TestHostError"]


def __getattr__(name: str) -> Any:
    # Lazy: FakeVK pulls in the aiohttp server, which flow tests do not need.
    if name == "FakeVK":
        from botrt.testing._fakevk import FakeVK

        return FakeVK
    raise AttributeError(f"module 'botrt.testing' has no attribute {name!r}")
