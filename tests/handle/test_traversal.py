"""Traversal as the seed states it: start nodes in order, depth first, once per path."""

from __future__ import annotations

import pytest
from flowkit import text, tracer

from botrt.handle import Flow, FlowNode, node
from botrt.testing import TestHost

pytestmark = pytest.mark.anyio

SEED_ORDER = ["n1", "n3", "n4", "n5", "n7", "n6", "n7", "n2", "n3", "n4", "n5", "n7", "n6", "n7"]


async def run(flow: Flow) -> None:
    async with TestHost(flows=[flow]) as host:
        await host.emit(text())


async def test_seed_paths_run_each_path() -> None:
    trace: list[str] = []
    n1, n2, n3, n4, n5, n6, n7 = tracer(trace, *[f"n{i}" for i in range(1, 8)])
    flow = Flow("test-flow", [n1, n3, n4, n5, n7], [n2, n3, n4], [n4, n6, n7])
    await run(flow)
    assert trace == SEED_ORDER


async def test_nested_list_fans_out_and_back_in() -> None:
    trace: list[str] = []
    n1, n2, n3, n4, n5, n6, n7 = tracer(trace, *[f"n{i}" for i in range(1, 8)])
    flow = Flow("test-flow", [n1, n3, n4, [n5, n6], n7], [n2, n3])
    assert [(a.name, b.name) for a, b in flow.edges if a is n4 or b is n7] == [
        ("n4", "n5"),
        ("n4", "n6"),
        ("n5", "n7"),
        ("n6", "n7"),
    ]
    await run(flow)
    assert trace == SEED_ORDER


async def test_leading_group_gives_two_start_nodes() -> None:
    trace: list[str] = []
    n1, n2, n3, n4, n5, n6, n7 = tracer(trace, *[f"n{i}" for i in range(1, 8)])
    flow = Flow("test-flow", [[n1, n2], n3, n4, [n5, n6], n7])
    assert [n.name for n in flow.graph.starts] == ["n1", "n2"]
    await run(flow)
    assert trace == SEED_ORDER


async def test_one_element_path_adds_an_isolated_start_node() -> None:
    trace: list[str] = []
    a, b, alone = tracer(trace, "a", "b", "alone")
    flow = Flow("f", [a, b], [alone])
    assert flow.graph.starts == (a, alone)
    await run(flow)
    assert trace == ["a", "b", "alone"]


async def test_false_ends_that_path_only() -> None:
    trace: list[str] = []

    @node
    def gate() -> bool:
        trace.append("gate")
        return False

    @node
    async def open_() -> bool:
        trace.append("open")
        return True

    after_gate, after_open = tracer(trace, "after_gate", "after_open")
    flow = Flow("f", [gate, after_gate], [open_, after_open])
    await run(flow)
    assert trace == ["gate", "open", "after_open"]


async def test_sync_and_async_nodes_mix() -> None:
    trace: list[str] = []

    @node
    def sync_step() -> None:
        trace.append("sync")

    @node
    async def async_step() -> None:
        trace.append("async")

    await run(Flow("f", [sync_step, async_step, sync_step.__class__(sync_step.fn, "again")]))
    assert trace == ["sync", "async", "sync"]


def test_node_names() -> None:
    async def step1() -> None: ...

    assert FlowNode(step1).name == "step1"
    assert FlowNode(step1, name="important first step").name == "important first step"

    @node
    def node2() -> None: ...

    @node(name="third")
    def node3() -> None: ...

    assert isinstance(node2, FlowNode)
    assert node2.name == "node2"
    assert node3.name == "third"


def test_a_node_can_be_shared_by_flows() -> None:
    trace: list[str] = []
    shared, a, b = tracer(trace, "shared", "a", "b")
    f1 = Flow("f1", [shared, a])
    f2 = Flow("f2", [shared, b])
    assert f1.graph.succ[shared] == (a,)
    assert f2.graph.succ[shared] == (b,)


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        (([lambda: None],), "path 1, element 1 is not a node"),
        (("abc",), "path 1 must be a list of nodes"),
        (([[]],), "path 1, element 1 is an empty group"),
    ],
)
def test_bad_paths_are_refused(paths: tuple[object, ...], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        Flow("bad", *paths)


def test_a_function_in_a_path_gets_a_hint() -> None:
    def plain() -> None: ...

    with pytest.raises(TypeError, match=r"wrap the function with @node"):
        Flow("bad", [plain])
