"""Cycles are refused eagerly, by the call that closes them, with the nodes named."""

from __future__ import annotations

import traceback

import pytest
from flowkit import tracer

from botrt.handle import Flow, FlowCycleError, node


def test_constructor_names_the_cycle_in_order() -> None:
    a, b, c = tracer([], "a", "b", "c")
    with pytest.raises(FlowCycleError) as info:
        Flow("loop", [a, b, c], [c, a])
    assert info.value.flow == "loop"
    assert info.value.cycle == ("c", "a", "b", "c")
    assert str(info.value) == "flow 'loop' would have a cycle: c -> a -> b -> c"


def test_self_loop() -> None:
    (a,) = tracer([], "a")
    with pytest.raises(FlowCycleError, match="a -> a"):
        Flow("self", [a, a])


def test_decorator_that_closes_a_cycle_raises_there_and_changes_nothing() -> None:
    f = Flow("f")

    @f.add
    @node
    async def n1() -> None: ...

    @f.after(n1)
    @node
    async def n2() -> None: ...

    edges = f.edges
    nodes = f.nodes
    with pytest.raises(FlowCycleError) as info:

        @f.merge(n2)
        @f.before(n2)  # n3 -> n2 is fine, then n2 -> n3 closes n2 -> n3 -> n2
        @node
        async def n3() -> None: ...

    assert info.value.cycle == ("n2", "n3", "n2")
    # The failing merge added nothing; the before() that ran first stays.
    assert [(a.name, b.name) for a, b in f.edges] == [("n1", "n2"), ("n3", "n2")]
    assert f.edges[: len(edges)] == edges
    assert f.nodes[: len(nodes)] == nodes
    # The traceback points at this test's line, the one that closed the cycle.
    frames = traceback.extract_tb(info.tb)
    assert any(fr.filename == __file__ for fr in frames)


def test_merge_is_all_or_nothing() -> None:
    a, b, c = tracer([], "a", "b", "c")
    f = Flow("f", [a, b])
    with pytest.raises(FlowCycleError):
        # merge adds a -> c and b -> c; the fork then asks for c -> a, closing a -> c -> a
        f.fork(a)(f.merge(a, b)(c))
    assert [(x.name, y.name) for x, y in f.edges] == [("a", "b"), ("a", "c"), ("b", "c")]


def test_long_cycle_through_composable_api() -> None:
    trace: list[str] = []
    n = tracer(trace, *[f"n{i}" for i in range(6)])
    f = Flow("chain", n)
    with pytest.raises(FlowCycleError) as info:
        f.after(n[5])(n[0])
    assert info.value.cycle == ("n5", "n0", "n1", "n2", "n3", "n4", "n5")
