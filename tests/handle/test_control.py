"""Control functions: nextn, block, stop, bypass, rewind, flow_to."""

from __future__ import annotations

import pytest
from flowkit import text, tracer

from botrt.handle import (
    Flow,
    FlowContextError,
    FlowStore,
    block,
    bypass,
    flow_to,
    get_flow_records,
    nextn,
    node,
    rewind,
    stop,
)
from botrt.testing import TestHost

pytestmark = pytest.mark.anyio


async def run(*flows: Flow) -> None:
    async with TestHost(flows=flows) as host:
        await host.emit(text())


async def test_nextn_runs_successors_inside_the_node() -> None:
    trace: list[str] = []

    @node
    async def wrapper() -> bool:
        trace.append("enter")
        await nextn()
        await nextn()  # only the first call does anything
        trace.append("cleanup")
        return False  # ignored: successors already ran

    a, b = tracer(trace, "a", "b")
    await run(Flow("f", [wrapper, [a, b]]))
    assert trace == ["enter", "a", "b", "cleanup"]


async def test_nextn_from_a_nested_function() -> None:
    trace: list[str] = []

    async def helper() -> None:
        await nextn()

    @node
    async def outer() -> None:
        await helper()
        trace.append("outer done")

    (after,) = tracer(trace, "after")
    await run(Flow("f", [outer, after]))
    assert trace == ["after", "outer done"]


async def test_stop_ends_the_whole_run_from_deep_inside() -> None:
    trace: list[str] = []

    async def deep() -> None:
        await stop()

    @node
    async def stopper() -> None:
        trace.append("stopper")
        await deep()
        trace.append("never")

    first, second, other_start = tracer(trace, "first", "second", "other_start")
    await run(Flow("f", [first, stopper, second], [other_start]))
    assert trace == ["first", "stopper"]


async def test_stop_inside_nextn_unwinds_the_outer_node_too() -> None:
    trace: list[str] = []

    @node
    async def outer() -> None:
        try:
            await nextn()
        finally:
            trace.append("outer finally")
        trace.append("never")

    @node
    async def inner() -> None:
        await stop()

    await run(Flow("f", [outer, inner]))
    assert trace == ["outer finally"]


async def test_bypass_leaves_the_node_and_continues_with_successors() -> None:
    trace: list[str] = []

    async def sub_func() -> None:
        await bypass()

    @node
    async def skipper() -> None:
        trace.append("skipper")
        await sub_func()
        trace.append("never")

    (nxt,) = tracer(trace, "next")
    await run(Flow("f", [skipper, nxt]))
    assert trace == ["skipper", "next"]


async def test_rewind_reruns_the_node() -> None:
    attempts: list[int] = []

    @node
    async def retry(store: FlowStore) -> None:
        store["n"] = store.get("n", 0) + 1
        attempts.append(store["n"])
        if store["n"] < 3:
            await rewind()

    trace: list[str] = []
    (after,) = tracer(trace, "after")
    await run(Flow("f", [retry, after]))
    assert attempts == [1, 2, 3]
    assert trace == ["after"]


async def test_rewind_after_nextn_reruns_the_node_from_a_clean_start() -> None:
    # Issue 20, defect 5: the rerun's nextn() must run the successors again,
    # as the first attempt's did (the attempt that called rewind() never finished).
    trace: list[str] = []

    @node
    async def first(store: FlowStore) -> None:
        store["n"] = store.get("n", 0) + 1
        trace.append(f"first#{store['n']}")
        await nextn()
        if store["n"] == 1:
            await rewind()

    (second,) = tracer(trace, "second")
    await run(Flow("f", [first, second]))
    assert trace == ["first#1", "second", "first#2", "second"]


async def test_rewind_after_nextn_without_a_second_nextn_runs_successors_after_the_node() -> None:
    trace: list[str] = []

    @node
    async def first(store: FlowStore) -> None:
        store["n"] = store.get("n", 0) + 1
        trace.append(f"first#{store['n']}")
        if store["n"] == 1:
            await nextn()
            await rewind()

    (second,) = tracer(trace, "second")
    await run(Flow("f", [first, second]))
    assert trace == ["first#1", "second", "first#2", "second"]


async def test_block_stops_lower_priorities_but_not_the_same_tier() -> None:
    trace: list[str] = []

    @node
    async def blocker() -> None:
        await block()
        trace.append("blocker goes on")

    high = Flow("high", [blocker], priority=5)
    (peer_node,) = tracer(trace, "same tier")
    (low_node,) = tracer(trace, "low")
    peer = Flow("peer", [peer_node], priority=5)
    low = Flow("low", [low_node], priority=0)
    await run(low, high, peer)
    assert sorted(trace) == ["blocker goes on", "same tier"]


async def test_flow_to_runs_a_sub_flow_with_its_own_store_and_records() -> None:
    seen: dict[str, object] = {}

    @node
    async def in_sub(store: FlowStore) -> None:
        seen["sub store"] = dict(store)
        store["from sub"] = True
        seen["sub records"] = [r.node_name for r in get_flow_records()]
        await stop()  # ends the sub-flow only

    sub = Flow("sub", [in_sub])

    @node
    async def caller(store: FlowStore) -> None:
        store["from caller"] = True
        await flow_to(sub)
        seen["caller store"] = dict(store)

    (after,) = tracer(trace := [], "after")
    await run(Flow("main", [caller, after]))
    assert seen["sub store"] == {}
    assert seen["caller store"] == {"from caller": True}
    assert seen["sub records"] == ["in_sub"]
    assert trace == ["after"]


async def test_flow_to_propagates_exceptions_to_the_caller() -> None:
    caught: list[str] = []

    @node
    async def boom() -> None:
        raise ValueError("inner failure")

    sub = Flow("sub", [boom])

    @node
    async def caller() -> None:
        try:
            await flow_to(sub)
        except ValueError as exc:
            caught.append(str(exc))

    await run(Flow("main", [caller]))
    assert caught == ["inner failure"]


async def test_flow_to_respects_the_sub_flows_guard() -> None:
    trace: list[str] = []
    (sub_node,) = tracer(trace, "sub")
    sub = Flow("sub", [sub_node])
    sub.set_guard(lambda e: False)

    @node
    async def caller() -> None:
        await flow_to(sub)
        trace.append("caller")

    await run(Flow("main", [caller]))
    assert trace == ["caller"]


@pytest.mark.parametrize(
    ("fn", "label"),
    [(nextn, "nextn()"), (block, "block()"), (stop, "stop()"), (bypass, "bypass()"),
     (rewind, "rewind()")],
)  # fmt: skip
async def test_control_functions_outside_a_run_raise(fn: object, label: str) -> None:
    with pytest.raises(FlowContextError, match=r"works only inside a flow run"):
        await fn()  # type: ignore[operator]


async def test_flow_to_outside_a_run_raises() -> None:
    with pytest.raises(FlowContextError, match=r"flow_to\(\) works only inside a flow run"):
        await flow_to(Flow("x"))
