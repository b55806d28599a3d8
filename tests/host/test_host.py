"""The host's intake: bounded queue with backpressure, per-conversation order, middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from _served import DropSecrets
from botrt.adapter import TextEvent
from botrt.config import parse_config
from botrt.handle import Flow, node
from botrt.host import Host
from botrt.testing import MemoryEvent

pytestmark = pytest.mark.anyio


def config() -> Any:
    return parse_config(
        {
            "console": {"enabled": False},
            "plugins": {"builtin": False, "dirs": []},
            "storage": {"url": "sqlite:///:memory:"},
        },
        base_dir=".",
    )


@asynccontextmanager
async def serving(host: Host) -> AsyncIterator[Host]:
    await host.start()
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: host.serve(signals=False))
        yield host
        host.request_stop()
    await host.stop()


async def test_a_full_queue_makes_submit_wait() -> None:
    class Small(Host):
        max_queue = 2
        max_pending = 1

    gate = anyio.Event()
    handled: list[str] = []

    @node
    async def slow(e: TextEvent) -> None:
        await gate.wait()
        handled.append(e.text)

    host = Small(config(), entry_points=False)
    host.dispatcher.add(Flow("slow", [slow]))
    submitted: list[str] = []
    async with serving(host):
        async with anyio.create_task_group() as tg:

            async def submit(text: str) -> None:
                await host.submit(MemoryEvent(text, user_id=len(submitted) + 1))
                submitted.append(text)

            for i in range(5):
                tg.start_soon(submit, f"m{i}")
                await wait_all_tasks_blocked()
            # One event running, one waiting for a slot, two in the queue: the fifth waits.
            assert len(submitted) == 4
            assert handled == []
            gate.set()
        with anyio.fail_after(30):
            while len(handled) < 5:
                await wait_all_tasks_blocked()
    assert sorted(handled) == ["m0", "m1", "m2", "m3", "m4"]
    assert len(submitted) == 5


async def test_one_conversation_is_handled_in_order_while_others_run() -> None:
    release_first = anyio.Event()
    order: list[str] = []

    @node
    async def step(e: TextEvent) -> None:
        if e.text == "a1":
            await release_first.wait()
        order.append(e.text)
        if e.text == "b1":
            release_first.set()  # peer b overtakes the stuck a1; a2 still waits for a1

    host = Host(config(), entry_points=False)
    host.dispatcher.add(Flow("order", [step]))
    async with serving(host):
        await host.submit(MemoryEvent("a1", user_id=1))
        await host.submit(MemoryEvent("a2", user_id=1))
        await host.submit(MemoryEvent("b1", user_id=2))
        with anyio.fail_after(30):
            while len(order) < 3:
                await wait_all_tasks_blocked()
    assert order == ["b1", "a1", "a2"]


async def test_middleware_can_drop_events() -> None:
    seen: list[str] = []

    @node
    async def record(e: TextEvent) -> None:
        seen.append(e.text)

    host = Host(config(), entry_points=False, hook_modules=(DropSecrets(),))
    host.dispatcher.add(Flow("record", [record]))
    await host.start()
    try:
        await host.handle(MemoryEvent("hello"))
        await host.handle(MemoryEvent("secret stuff"))
    finally:
        await host.stop()
    assert seen == ["hello"]


async def test_the_console_adapter_comes_from_the_entry_point() -> None:
    host = Host(parse_config({}, base_dir="."))
    adapters = [a for group in host.pm.hook.botrt_adapters(host=host) for a in group]
    assert [a.name for a in adapters] == ["console"]


async def test_flow_errors_are_counted_per_plugin() -> None:
    @node
    async def broken(e: TextEvent) -> None:
        raise ValueError("boom")

    host = Host(config(), entry_points=False)
    flow = Flow("broken", [broken])
    flow.plugin = "demo"
    host.dispatcher.add(flow)
    await host.start()
    try:
        await host.handle(MemoryEvent("x"))
        await host.handle(MemoryEvent("y"))
    finally:
        await host.stop()
    text = host.metrics.render().decode()
    assert 'botrt_flow_errors_total{plugin="demo"} 2.0' in text
    assert 'botrt_events_handled_total{bot="memory",platform="memory"} 2.0' in text
