"""A host's stop has one deadline: events in flight and background work end within it."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from botrt.adapter import TextEvent
from botrt.config import parse_config
from botrt.handle import Flow, node
from botrt.host import Host
from botrt.testing import MemoryEvent

pytestmark = pytest.mark.anyio


def config() -> Any:
    return parse_config(
        {"console": {"enabled": False}, "plugins": {"builtin": False, "dirs": []}},
        base_dir=".",
    )


async def test_background_work_is_cancelled_at_the_stop_with_the_drain_deadline() -> None:
    host = Host(config(), entry_points=False)
    host.drain_grace = 7.0
    await host.start()
    gate = anyio.Event()
    seen: dict[str, Any] = {}
    background = host.background.for_plugin("p")

    @node
    async def slow(e: TextEvent) -> None:
        await gate.wait()
        seen["event done"] = True

    async def work() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            seen["deadline in"] = background.deadline - anyio.current_time()  # type: ignore[operator]
            seen["event in flight"] = "event done" not in seen
            gate.set()

    host.dispatcher.add(Flow("slow", [slow]))
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: host.serve(signals=False))
            await anyio.wait_all_tasks_blocked()
            background.start(work)
            await host.submit(MemoryEvent("hi"))
            await anyio.wait_all_tasks_blocked()
            assert background.deadline is None
            host.request_stop()
        # Cancelled as the stop began, while the event was still in flight, and
        # told the same deadline the event had.
        assert seen["event in flight"] is True
        assert 0 < seen["deadline in"] <= 7.0
        assert seen["event done"] is True
        started: list[str] = []

        async def later() -> None:
            started.append("later")

        background.start(later)  # the host is stopping: it does not run
        await anyio.wait_all_tasks_blocked()
        assert started == []
    finally:
        await host.stop()
