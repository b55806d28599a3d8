"""Priorities: higher tiers first, one tier concurrently, update_priority from the next event."""

from __future__ import annotations

import anyio
import pytest
from flowkit import text, tracer

from botrt.handle import Flow, node
from botrt.testing import TestHost

pytestmark = pytest.mark.anyio


async def test_higher_priority_runs_first() -> None:
    trace: list[str] = []
    (lo,) = tracer(trace, "low")
    (mid,) = tracer(trace, "mid")
    (hi,) = tracer(trace, "high")
    flows = [Flow("low", [lo]), Flow("high", [hi], priority=10), Flow("mid", [mid], priority=5)]
    async with TestHost(flows=flows) as host:
        await host.emit(text())
    assert trace == ["high", "mid", "low"]


async def test_flows_of_one_tier_run_concurrently() -> None:
    # Each flow waits for the other to start: run one after the other, they would hang.
    a_started, b_started = anyio.Event(), anyio.Event()

    @node
    async def a() -> None:
        a_started.set()
        with anyio.fail_after(30):
            await b_started.wait()

    @node
    async def b() -> None:
        b_started.set()
        with anyio.fail_after(30):
            await a_started.wait()

    done: list[str] = []
    (after,) = tracer(done, "lower tier")
    async with TestHost(
        flows=[Flow("a", [a]), Flow("b", [b]), Flow("z", [after], priority=-1)]
    ) as host:
        await host.emit(text())
    assert a_started.is_set()
    assert b_started.is_set()
    assert done == ["lower tier"]


async def test_update_priority_takes_effect_from_the_next_event() -> None:
    trace: list[str] = []

    @node
    async def promote() -> None:
        trace.append("promoted flow")
        flow1.update_priority(10)

    flow1 = Flow("flow1", [promote])
    (other_node,) = tracer(trace, "other")
    other = Flow("other", [other_node], priority=5)
    async with TestHost(flows=[flow1, other]) as host:
        await host.emit(text())
        assert trace == ["other", "promoted flow"]
        trace.clear()
        await host.emit(text())
        assert trace == ["promoted flow", "other"]
    assert flow1.priority == 10


async def test_guard_filters_events() -> None:
    trace: list[str] = []
    (n_sync,) = tracer(trace, "sync-guarded")
    (n_async,) = tracer(trace, "async-guarded")
    sync_flow = Flow("s", [n_sync])
    async_flow = Flow("a", [n_async])

    @sync_flow.set_guard
    def only_hello(e: object) -> bool:
        return getattr(e, "text", "") == "hello"

    @async_flow.set_guard
    async def only_bye(e: object) -> bool | None:
        return getattr(e, "text", "") == "bye" or None

    async with TestHost(flows=[sync_flow, async_flow]) as host:
        await host.emit(text("hello"))
        await host.emit(text("bye"))
        await host.emit(text("other"))
    assert trace == ["sync-guarded", "async-guarded"]
    assert sync_flow.guard is only_hello
