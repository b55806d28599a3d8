"""Store, records and the dynamic context variables, inside and outside a run."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from flowkit import text

import botrt.handle as bh
from botrt.adapter import Event
from botrt.handle import (
    Flow,
    FlowContextError,
    FlowStore,
    get_event,
    get_flow_records,
    get_flow_store,
    node,
)
from botrt.testing import TestHost

pytestmark = pytest.mark.anyio


async def test_getters_and_dynamic_variables_agree() -> None:
    got: dict[str, object] = {}

    @node
    async def look(store: FlowStore) -> None:
        got["event"] = bh.event
        got["same event"] = get_event() is bh.event
        got["store"] = bh.f_store is store is get_flow_store()
        got["records"] = bh.f_records == get_flow_records()

    ev = text()
    async with TestHost(flows=[Flow("f", [look])]) as host:
        await host.emit(ev)
    assert got == {"event": ev, "same event": True, "store": True, "records": True}


async def test_each_run_gets_a_fresh_store() -> None:
    sizes: list[int] = []

    @node
    async def count(store: FlowStore) -> None:
        sizes.append(len(store))
        store["seen"] = True

    async with TestHost(flows=[Flow("f", [count])]) as host:
        await host.emit(text())
        await host.emit(text())
    assert sizes == [0, 0]


async def test_a_task_started_in_a_copied_context_sees_the_run() -> None:
    seen: list[Event] = []

    def read() -> None:
        seen.append(get_event())

    async def in_task() -> None:
        read()

    @node
    async def spawn() -> None:
        ctx = contextvars.copy_context()
        await asyncio.get_running_loop().create_task(in_task(), context=ctx)

    ev = text()
    async with TestHost(flows=[Flow("f", [spawn])]) as host:
        await host.emit(ev)
    assert seen == [ev]


@pytest.mark.parametrize("name", ["event", "f_store", "f_records"])
def test_dynamic_variables_outside_a_run_raise(name: str) -> None:
    with pytest.raises(FlowContextError, match="works only inside a flow run"):
        getattr(bh, name)


def test_importing_a_dynamic_variable_at_module_level_fails_clearly() -> None:
    with pytest.raises(FlowContextError):
        exec("from botrt.handle import event", {})


@pytest.mark.parametrize("fn", [get_event, get_flow_store, get_flow_records])
def test_getters_outside_a_run_raise(fn: object) -> None:
    with pytest.raises(FlowContextError):
        fn()  # type: ignore[operator]


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        _ = bh.no_such_thing
