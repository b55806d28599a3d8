"""Helpers for flow tests: nodes that write down that they ran."""

from __future__ import annotations

from botrt.adapter import TextEvent
from botrt.handle import FlowNode, node
from botrt.testing import MemoryEvent


def tracer(trace: list[str], *names: str) -> list[FlowNode]:
    """One async node per name; each appends its name to `trace` when it runs."""

    def make(name: str) -> FlowNode:
        async def step() -> None:
            trace.append(name)

        return node(step, name=name)

    return [make(n) for n in names]


def text(t: str = "hi", user_id: int = 1) -> TextEvent:
    return MemoryEvent(t, user_id=user_id)
