"""`Dispatcher.deliver`: its fast paths (one plain command, no match) keep dispatch's rules."""

from __future__ import annotations

import logging

import pytest
from flowkit import text

from botrt.adapter import TextEvent
from botrt.handle import Dispatcher, Flow, block, node, on_command, stop
from botrt.handle._flow import Flow as FlowType

pytestmark = pytest.mark.anyio


def command(name: str, seen: list[str], *, priority: int = 0, fail: bool = False) -> FlowType:
    @on_command(name, priority=priority)
    async def handler(e: TextEvent) -> None:
        seen.append(f"{name}:{e.text}")
        if fail:
            raise RuntimeError(f"{name} broke")

    return handler


async def test_the_fast_paths_run_the_same_flows_as_the_tiers() -> None:
    seen: list[str] = []
    d = Dispatcher([command("a", seen), command("b", seen, priority=3)])
    for t in ("/a x", "/B", "/c", "", "/a"):
        await d.deliver(text(t))
    await d.dispatch(text("/b y"))
    assert seen == ["a:/a x", "b:/B", "a:/a", "b:/b y"]


async def test_a_failure_on_the_fast_path_is_logged_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []
    errors: list[tuple[str, str]] = []
    d = Dispatcher([command("bad", seen, fail=True)])
    d.on_error = lambda flow, exc: errors.append((flow.name, str(exc)))
    with caplog.at_level(logging.ERROR, logger="botrt.dispatch"):
        await d.deliver(text("/bad"))
        await d.deliver(text("/bad again"))
    assert seen == ["bad:/bad", "bad:/bad again"]
    assert [e[1] for e in errors] == ["bad broke", "bad broke"]
    assert "bad broke" in caplog.text


async def test_control_functions_work_on_the_fast_path() -> None:
    trace: list[str] = []

    @node
    async def first(e: TextEvent) -> None:
        trace.append("first")
        await stop()

    @node
    async def second(e: TextEvent) -> None:
        trace.append("second")

    @on_command("go", priority=1)
    async def go(e: TextEvent) -> None:
        trace.append("go")
        await block()

    @on_command("go")
    async def lower(e: TextEvent) -> None:
        trace.append("lower")

    stopping = Flow("stopping", [first, second])
    d = Dispatcher([go, lower])
    await d.deliver(text("/go"))
    assert trace == ["go"]  # blocked: the lower tier does not see it
    d.add(stopping)  # a flow without a command: every event reaches the tiers' loop
    trace.clear()
    await d.deliver(text("/go"))
    assert trace == ["go"]
    trace.clear()
    await d.deliver(text("hello"))
    assert trace == ["first"]


async def test_a_single_flow_keeps_its_guard_set_after_the_first_event() -> None:
    seen: list[str] = []

    @node
    async def record(e: TextEvent) -> None:
        seen.append(e.text)

    only = Flow("only", [record])
    d = Dispatcher([only])
    await d.deliver(text("one"))
    only.set_guard(lambda e: getattr(e, "text", "") != "skip")
    await d.deliver(text("skip"))
    await d.deliver(text("two"))
    assert seen == ["one", "two"]
