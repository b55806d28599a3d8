"""Dispatch isolates failures: a raising node is logged, everything else carries on."""

from __future__ import annotations

import logging

import pytest
from flowkit import text, tracer

from botrt.adapter import TextEvent
from botrt.handle import Flow, node
from botrt.testing import TestHost

pytestmark = pytest.mark.anyio


async def test_a_raising_node_is_logged_and_others_carry_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    trace: list[str] = []

    @node(name="exploding step")
    async def explode() -> None:
        raise RuntimeError("kaboom")

    (never,) = tracer(trace, "never")
    (same_tier,) = tracer(trace, "same tier")
    (lower,) = tracer(trace, "lower")
    flows = [
        Flow("broken", [explode, never], priority=1),
        Flow("healthy", [same_tier], priority=1),
        Flow("low", [lower]),
    ]
    async with TestHost(flows=flows) as host:
        with caplog.at_level(logging.ERROR, logger="botrt.dispatch"):
            await host.emit(text("first"))
        assert sorted(trace) == ["lower", "same tier"]
        trace.clear()
        await host.emit(text("second"))  # later events still flow
        assert sorted(trace) == ["lower", "same tier"]
    rec = next(r for r in caplog.records if r.name == "botrt.dispatch")
    assert "'broken'" in rec.getMessage()
    assert "'exploding step'" in rec.getMessage()
    assert "kaboom" in rec.getMessage()


async def test_a_failing_guard_is_logged_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    trace: list[str] = []
    (n,) = tracer(trace, "n")
    guarded = Flow("guarded", [n])

    @guarded.set_guard
    def bad_guard(e: object) -> bool:
        raise KeyError("nope")

    (other,) = tracer(trace, "other")
    async with TestHost(flows=[guarded, Flow("other", [other])]) as host:
        with caplog.at_level(logging.ERROR, logger="botrt.dispatch"):
            await host.emit(text())
    assert trace == ["other"]
    assert any("guarded" in r.getMessage() for r in caplog.records)


async def test_failure_inside_a_sub_flow_names_the_inner_node(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from botrt.handle import flow_to

    @node
    async def inner() -> None:
        raise ValueError("deep")

    sub = Flow("sub", [inner])

    @node
    async def outer() -> None:
        await flow_to(sub)

    async with TestHost(flows=[Flow("main", [outer])]) as host:
        with caplog.at_level(logging.ERROR, logger="botrt.dispatch"):
            await host.emit(text())
    (rec,) = caplog.records
    assert "flow 'sub', node 'inner'" in rec.getMessage()


async def test_replies_come_back_from_test_host() -> None:
    @node
    async def answer(e: TextEvent) -> None:
        await e.reply(f"you said {e.text}")
        await e.reply("bye")

    async with TestHost(flows=[Flow("echo", [answer])]) as host:
        assert await host.send("hello") == ["you said hello", "bye"]
        assert await host.send("again", user_id=7) == ["you said again", "bye"]
