"""The composable API: add, after, before, merge, fork, stacked as in the seed."""

from __future__ import annotations

import pytest
from flowkit import text, tracer

from botrt.handle import Flow, FlowNode, node
from botrt.testing import TestHost

pytestmark = pytest.mark.anyio


def names(flow: Flow) -> list[tuple[str, str]]:
    return [(a.name, b.name) for a, b in flow.edges]


def test_each_decorator_adds_its_edges_and_returns_the_node() -> None:
    f = Flow("test-flow")

    @f.add
    @node
    async def n1() -> None: ...

    @f.after(n1)
    @node
    async def n2() -> None: ...

    @f.merge(n1, n2)
    @node
    async def n3() -> None: ...

    @f.before(n1)
    @node
    async def n_pre1() -> None: ...

    @f.fork(n_pre1, n1)
    @node
    async def n_pre2() -> None: ...

    for n in (n1, n2, n3, n_pre1, n_pre2):
        assert isinstance(n, FlowNode)
    assert names(f) == [
        ("n1", "n2"),
        ("n1", "n3"),
        ("n2", "n3"),
        ("n_pre1", "n1"),
        ("n_pre2", "n_pre1"),
        ("n_pre2", "n1"),
    ]
    assert [n.name for n in f.graph.starts] == ["n_pre2"]


async def test_stacked_decorators_add_edges_inside_out() -> None:
    trace: list[str] = []
    f = Flow("test-flow")
    n_pre2 = f.add(tracer(trace, "n_pre2")[0])
    n_pre1 = f.after(n_pre2)(tracer(trace, "n_pre1")[0])
    n2 = f.add(tracer(trace, "n2")[0])
    n3 = f.after(n2)(tracer(trace, "n3")[0])
    edges_before = len(f.edges)

    @f.fork(n2, n3)
    @f.merge(n_pre2, n_pre1)
    @node
    async def n1() -> None:
        trace.append("n1")

    assert names(f)[edges_before:] == [
        ("n_pre2", "n1"),
        ("n_pre1", "n1"),
        ("n1", "n2"),
        ("n1", "n3"),
    ]
    async with TestHost(flows=[f]) as host:
        await host.emit(text())
    # One start node (n_pre2); every path from it, depth first, successors in order.
    assert trace == [
        "n_pre2",
        "n_pre1", "n1", "n2", "n3", "n3",
        "n1", "n2", "n3", "n3",
    ]  # fmt: skip


def test_decorators_accept_plain_functions() -> None:
    f = Flow("f")

    @f.add
    async def first() -> None: ...

    @f.after(first)
    def second() -> None: ...

    assert isinstance(first, FlowNode)
    assert names(f) == [("first", "second")]


def test_adding_an_existing_edge_again_changes_nothing() -> None:
    trace: list[str] = []
    a, b = tracer(trace, "a", "b")
    f = Flow("f", [a, b])
    f.after(a)(b)
    assert names(f) == [("a", "b")]


def test_a_node_reference_must_be_a_node() -> None:
    f = Flow("f")

    def not_a_node() -> None: ...

    with pytest.raises(TypeError, match="is not a node"):
        f.after(not_a_node)(node(lambda: None, name="x"))  # type: ignore[arg-type]
