"""A durable state across a plugin reload and across a host restart (SQLite file, PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from statekit import FORM, START, form_plugin, host_on

from botrt.testing import ManualClock, MemoryEvent, TestHost

pytestmark = pytest.mark.anyio

# Version 2 names the states differently: "age" is gone, "years" is new.
RENAMED = FORM.replace('on_state("age")', 'on_state("years")').replace(
    'conv.set("age",', 'conv.set("years",'
)


async def reload(host: TestHost, folder: Path) -> None:
    runtime = host.host.runtime
    old = await runtime.swap("form", runtime.import_plugin("form", folder))
    assert old is not None


async def test_a_state_survives_a_reload_and_the_new_flows_take_the_next_message(
    tmp_path: Path,
) -> None:
    folder = form_plugin(tmp_path, version="1")
    async with host_on(folder, tmp_path / "bot.db") as host:
        assert await host.send("/register") == ["Your name?"]
        form_plugin(tmp_path, version="2", prefix="v2: ")
        await reload(host, folder)
        assert host.host.runtime.plugins["form"].version == "2"
        assert await host.send("Ann") == ["v2: Your age?"]
        assert await host.send("30") == ["Ann, 30"]


async def test_a_state_the_new_version_no_longer_handles_is_cleared_at_the_next_message(
    tmp_path: Path,
) -> None:
    folder = form_plugin(tmp_path, version="1")
    async with host_on(folder, tmp_path / "bot.db") as host:
        assert await host.send("/register") == ["Your name?"]
        assert await host.send("Ann") == ["Your age?"]  # now in "age"
        form_plugin(tmp_path, version="2", source=RENAMED)
        await reload(host, folder)
        assert await host.send("30") == ["text:30"]  # no flow for "age": out of it
        assert await host.send("/whoami") == ["None []"]


async def test_a_state_survives_a_restart_on_the_same_storage(
    tmp_path: Path, storage_url: str
) -> None:
    folder = form_plugin(tmp_path)
    async with host_on(folder, storage_url) as host:
        assert await host.send("/register", user_id=5) == ["Your name?"]
        assert await host.send("Ann", user_id=5) == ["Your age?"]
    async with host_on(folder, storage_url) as host:
        assert await host.send("/whoami", user_id=6) == ["None []"]
        assert await host.send("30", user_id=5) == ["Ann, 30"]
    async with host_on(folder, storage_url) as host:
        assert await host.send("30", user_id=5) == ["text:30"]


async def test_a_state_expired_while_the_bot_was_down_is_gone_after_the_restart(
    tmp_path: Path,
) -> None:
    clock = ManualClock(START)
    folder = form_plugin(tmp_path)
    config = {
        "storage": {"url": f"sqlite:///{tmp_path / 'bot.db'}"},
        "conversations": {"state_ttl": 60},
    }
    async with TestHost(plugins=[folder], config=config, clock=clock) as host:
        assert await host.send("/register") == ["Your name?"]
    clock.advance(START + dt.timedelta(seconds=61))
    async with TestHost(plugins=[folder], config=config, clock=clock) as host:
        assert len(host.host.dispatcher.states or ()) == 0  # pruned at start
        assert await host.send("Ann") == ["text:Ann"]


async def test_a_message_for_a_state_flow_waits_while_its_plugin_swaps(tmp_path: Path) -> None:
    async with host_on(form_plugin(tmp_path), tmp_path / "bot.db") as host:
        assert await host.send("/register") == ["Your name?"]
        dispatcher = host.dispatcher
        gate = dispatcher.hold(f for f in dispatcher.flows if f.plugin == "form")
        in_state, other = MemoryEvent("Ann"), MemoryEvent("hi", user_id=2)
        async with anyio.create_task_group() as tg:
            tg.start_soon(host.emit, in_state)
            tg.start_soon(host.emit, other)
            with anyio.fail_after(10):
                while gate._opened.statistics().tasks_waiting < 2:
                    await anyio.lowlevel.checkpoint()  # a checkpoint: both reach the gate
            assert in_state.replies == other.replies == []
            dispatcher.release(gate)
        assert in_state.replies == ["Your age?"]
        assert other.replies == ["text:hi"]
