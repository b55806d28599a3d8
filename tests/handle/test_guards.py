"""Guards: every kind of guard on every kind of flow is asked, once, before the flow runs.

A guard narrows what the flow's binder already selects: a command still needs
its word, a start-match its prefix, a scheduled flow its own slot.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from flowkit import text

from botrt.adapter import Event, ScheduleEvent, TextEvent
from botrt.handle import (
    Dispatcher,
    Flow,
    flow_to,
    node,
    on_command,
    on_event,
    on_schedule,
    on_start_match,
    on_text,
)

pytestmark = pytest.mark.anyio

Decide = Callable[[Event], bool]


def sync_function(decide: Decide) -> Any:
    def guard(event: Event) -> bool:
        return decide(event)

    return guard


def async_function(decide: Decide) -> Any:
    async def guard(event: Event) -> bool:
        return decide(event)

    return guard


class SyncCallable:
    def __init__(self, decide: Decide) -> None:
        self.decide = decide

    def __call__(self, event: Event) -> bool:
        return self.decide(event)


class AsyncCallable:
    def __init__(self, decide: Decide) -> None:
        self.decide = decide

    async def __call__(self, event: Event) -> bool:
        return self.decide(event)


def a_lambda(decide: Decide) -> Any:
    return lambda event: decide(event)


def partial_of_async(decide: Decide) -> Any:
    async def guard(decide: Decide, event: Event) -> bool:
        return decide(event)

    return functools.partial(guard, decide)


def lambda_returning_a_coroutine(decide: Decide) -> Any:
    async def check(event: Event) -> bool:
        return decide(event)

    return lambda event: check(event)


GUARDS: dict[str, Callable[[Decide], Any]] = {
    "sync function": sync_function,
    "async function": async_function,
    "sync callable object": SyncCallable,
    "async callable object": AsyncCallable,
    "lambda": a_lambda,
    "partial of async": partial_of_async,
    "lambda returning a coroutine": lambda_returning_a_coroutine,
}


def command_flow(seen: list[str]) -> tuple[Flow, Event, Event]:
    @on_command("go")
    async def handler(event: TextEvent) -> None:
        seen.append("ran")

    return handler, text("/go now"), text("/went")


def start_match_flow(seen: list[str]) -> tuple[Flow, Event, Event]:
    @on_start_match("!")
    async def handler(event: TextEvent) -> None:
        seen.append("ran")

    return handler, text("!go"), text("go!")


def text_flow(seen: list[str]) -> tuple[Flow, Event, Event]:
    @on_text(lambda t: t.startswith("g"))
    async def handler(event: TextEvent) -> None:
        seen.append("ran")

    return handler, text("go"), text("stop")


def event_flow(seen: list[str]) -> tuple[Flow, Event, Event]:
    @on_event(TextEvent)
    async def handler(event: Event) -> None:
        seen.append("ran")

    other = ScheduleEvent(scheduled_for=dt.datetime.now(dt.UTC), target=None, bot="memory")
    return handler, text("go"), other


def schedule_flow(seen: list[str]) -> tuple[Flow, Event, Event]:
    @on_schedule(every="1m")
    async def handler(event: ScheduleEvent) -> None:
        seen.append("ran")

    slot = dt.datetime.now(dt.UTC)
    mine = ScheduleEvent(scheduled_for=slot, target=handler, bot="memory")
    return handler, mine, ScheduleEvent(scheduled_for=slot, target=object(), bot="memory")


FLOWS: dict[str, Callable[[list[str]], tuple[Flow, Event, Event]]] = {
    "command": command_flow,
    "start-match": start_match_flow,
    "text": text_flow,
    "event": event_flow,
    "schedule": schedule_flow,
}


@pytest.mark.parametrize("flow_kind", FLOWS)
@pytest.mark.parametrize("guard_kind", GUARDS)
async def test_every_guard_kind_decides_for_every_flow_kind(
    guard_kind: str, flow_kind: str
) -> None:
    seen: list[str] = []
    asked: list[Event] = []
    answer = [True]
    flow, matching, unrelated = FLOWS[flow_kind](seen)

    def decide(event: Event) -> bool:
        asked.append(event)
        return answer[0]

    flow.set_guard(GUARDS[guard_kind](decide))
    d = Dispatcher([flow])

    await d.dispatch(matching)
    assert seen == ["ran"], "a guard that says yes lets the flow run"

    answer[0] = False
    await d.dispatch(matching)
    assert seen == ["ran"], "a guard that says no keeps the flow from running"
    assert asked == [matching, matching]

    answer[0] = True
    await d.dispatch(unrelated)
    assert seen == ["ran"], "a guard saying yes does not widen what the binder selects"


@pytest.mark.parametrize("guard_kind", GUARDS)
async def test_every_guard_kind_on_a_plain_flow_and_a_sub_flow(guard_kind: str) -> None:
    seen: list[str] = []

    @node
    async def step(event: TextEvent) -> None:
        seen.append(event.text)

    plain = Flow("plain", [step])
    plain.set_guard(GUARDS[guard_kind](lambda e: getattr(e, "text", "") != "no"))

    @node
    async def enter(event: TextEvent) -> None:
        await flow_to(plain)

    d = Dispatcher([plain])
    await d.dispatch(text("yes"))
    await d.dispatch(text("no"))
    assert seen == ["yes"]

    outer = Dispatcher([Flow("outer", [enter])])
    await outer.dispatch(text("again"))
    await outer.dispatch(text("no"))
    assert seen == ["yes", "again"]


@pytest.mark.parametrize("guard_kind", GUARDS)
async def test_a_privileged_command_asks_its_guard_then_the_admin_check(guard_kind: str) -> None:
    seen: list[str] = []
    admins_asked: list[str] = []

    @on_command("secret", privileged=True)
    async def secret(event: TextEvent) -> None:
        seen.append(event.text)

    secret.set_guard(GUARDS[guard_kind](lambda e: "quiet" not in getattr(e, "text", "")))

    async def is_admin(event: Event) -> bool:
        admins_asked.append(getattr(event, "text", ""))
        return getattr(event, "user_id", 0) == 7

    d = Dispatcher([secret], is_admin=is_admin)
    await d.dispatch(text("/secret loud", user_id=7))
    await d.dispatch(text("/secret quiet", user_id=7))
    await d.dispatch(text("/secret loud", user_id=2))
    assert seen == ["/secret loud"]
    # The guard said no to "quiet": the admin check was not needed.
    assert admins_asked == ["/secret loud", "/secret loud"]


async def test_a_guard_set_after_the_flow_was_added_applies_from_the_next_event() -> None:
    seen: list[str] = []
    flow, matching, _ = command_flow(seen)
    d = Dispatcher([flow])
    await d.dispatch(matching)
    flow.set_guard(lambda e: False)
    await d.dispatch(matching)
    flow.set_guard(None)
    await d.dispatch(matching)
    assert seen == ["ran", "ran"]


async def test_a_held_flow_waits_for_its_gate_then_runs_on_the_flows_of_that_moment() -> None:
    seen: list[str] = []
    flow, matching, _ = command_flow(seen)
    d = Dispatcher([flow])

    gate = d.hold([flow])
    async with anyio.create_task_group() as tg:
        tg.start_soon(d.dispatch, matching)
        await anyio.wait_all_tasks_blocked()
        assert seen == [], "the event waits at the gate"
        d.release(gate)
    assert seen == ["ran"]

    # The flow is replaced while held: the held event runs on the replacement.
    @on_command("go")
    async def other(event: TextEvent) -> None:
        seen.append("other")

    gate = d.hold([flow])
    async with anyio.create_task_group() as tg:
        tg.start_soon(d.dispatch, matching)
        await anyio.wait_all_tasks_blocked()
        d.replace([flow], [other])
        d.release(gate)
    assert seen == ["ran", "other"]
    assert gate.is_open
