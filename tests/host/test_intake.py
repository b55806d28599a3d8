"""The host's intake beyond the basics: drain on stop, closing, withdrawn senders, failures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked
from anyio.abc import TaskGroup

from botrt.adapter import Event, TextEvent
from botrt.config import parse_config
from botrt.handle import Flow, node
from botrt.hooks import hookimpl
from botrt.host import Host
from botrt.testing import MemoryEvent

pytestmark = pytest.mark.anyio


def config() -> Any:
    return parse_config(
        {"console": {"enabled": False}, "plugins": {"builtin": False, "dirs": []}},
        base_dir=".",
    )


class Gated:
    """A served host whose one flow waits for `gate`, then records the event's text."""

    def __init__(self, host: Host, tg: TaskGroup) -> None:
        self.host = host
        self.tg = tg
        self.gate = anyio.Event()
        self.handled: list[str] = []


@asynccontextmanager
async def gated(*, max_queue: int = Host.max_queue, max_pending: int) -> AsyncIterator[Gated]:
    """Serve a `Gated` host with these limits; the block must call `request_stop`."""
    limited = type("Limited", (Host,), {"max_queue": max_queue, "max_pending": max_pending})
    host = limited(config(), entry_points=False)
    await host.start()
    try:
        async with anyio.create_task_group() as tg:
            g = Gated(host, tg)

            @node
            async def slow(e: TextEvent) -> None:
                await g.gate.wait()
                g.handled.append(e.text)

            host.dispatcher.add(Flow("slow", [slow]))
            tg.start_soon(lambda: host.serve(signals=False))
            await wait_all_tasks_blocked()
            yield g
    finally:
        await host.stop()


async def test_queued_events_finish_before_serve_returns() -> None:
    async with gated(max_pending=2) as g:
        for i in range(6):
            await g.host.submit(MemoryEvent(f"m{i}", user_id=i % 4))
        await wait_all_tasks_blocked()
        # m0 and m1 running, m2 held by the consumer until a slot frees, m3-m5 queued.
        assert g.host.queue_depth() == 3
        g.host.request_stop()
        await wait_all_tasks_blocked()
        with pytest.raises(anyio.ClosedResourceError):
            await g.host.submit(MemoryEvent("late"))
        g.gate.set()
    assert sorted(g.handled) == [f"m{i}" for i in range(6)]


async def test_a_cancelled_sender_withdraws_its_event() -> None:
    async with gated(max_queue=1, max_pending=1) as g:
        await g.host.submit(MemoryEvent("running", user_id=1))
        await g.host.submit(MemoryEvent("held", user_id=2))  # the consumer holds it
        await wait_all_tasks_blocked()
        await g.host.submit(MemoryEvent("queued", user_id=3))
        async with anyio.create_task_group() as senders:
            senders.start_soon(g.host.submit, MemoryEvent("withdrawn", user_id=4))
            senders.start_soon(g.host.submit, MemoryEvent("withdrawn too", user_id=5))
            await wait_all_tasks_blocked()  # both wait: the queue is full
            senders.cancel_scope.cancel()
        g.gate.set()
        await until_handled(g, 3)
        g.host.request_stop()
    assert sorted(g.handled) == ["held", "queued", "running"]


async def until_handled(g: Gated, count: int) -> None:
    with anyio.fail_after(30):
        while len(g.handled) < count:
            await wait_all_tasks_blocked()


class Exploding:
    @hookimpl
    def botrt_event_received(self, host: Host, event: Event) -> bool | None:
        if getattr(event, "text", "") == "boom":
            raise RuntimeError("middleware bug")
        return None


async def test_a_failing_event_leaves_its_lane_and_the_host_running(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    @node
    async def record(e: TextEvent) -> None:
        seen.append(e.text)

    host = Host(config(), entry_points=False, hook_modules=(Exploding(),))
    host.dispatcher.add(Flow("record", [record]))
    await host.start()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: host.serve(signals=False))
            await wait_all_tasks_blocked()
            for text in ("a", "boom", "b"):
                await host.submit(MemoryEvent(text))
            with anyio.fail_after(30):
                while len(seen) < 2:
                    await wait_all_tasks_blocked()
            host.request_stop()
    finally:
        await host.stop()
    assert seen == ["a", "b"]
    assert "middleware bug" in caplog.text


async def test_a_zero_length_queue_hands_over_from_waiting_senders() -> None:
    async with gated(max_queue=0, max_pending=1) as g:
        for i in range(3):
            g.tg.start_soon(g.host.submit, MemoryEvent(f"m{i}", user_id=i))
        await wait_all_tasks_blocked()
        g.gate.set()
        await until_handled(g, 3)
        g.host.request_stop()
    assert sorted(g.handled) == ["m0", "m1", "m2"]
