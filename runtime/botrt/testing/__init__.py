"""Testing kit: run flows and plugins with no network, and VK offline with `FakeVK`."""

from __future__ import annotations

import importlib
from typing import Any

from botrt.testing._clock import ManualClock
from botrt.testing._host import TestHost, TestHostError
from botrt.testing._memory import MemoryButtonEvent, MemoryEvent, MemoryMessage, MemoryOutbound

__all__ = [
    "FakeVK",
    "FakeVKError",
    "ManualClock",
    "MemoryButtonEvent",
    "MemoryEvent",
    "MemoryMessage",
    "MemoryOutbound",
    "PostgresError",
    "PostgresNotInstalled",
    "TestHost",
    "TestHostError",
]

# Lazy: FakeVK pulls in the aiohttp server, which flow tests do not need; the
# PostgreSQL helpers are for storage tests only.
_LAZY = {
    "FakeVK": "botrt.testing._fakevk",
    "FakeVKError": "botrt.testing._fakevk",
    "PostgresError": "botrt.testing._postgres",
    "PostgresNotInstalled": "botrt.testing._postgres",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'botrt.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
