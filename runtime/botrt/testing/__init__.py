"""Testing kit: run flows and plugins with no network."""

from botrt.testing._host import TestHost, TestHostError
from botrt.testing._memory import MemoryEvent

__all__ = ["MemoryEvent", "TestHost", "TestHostError"]
