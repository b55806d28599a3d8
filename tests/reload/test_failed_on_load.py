"""A reload whose new version fails in `on_load` is rolled back: the old version keeps serving."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import anyio
import pytest
from reloadkit import running_bot

from botrt.testing import TestHost

pytestmark = pytest.mark.anyio

PLUGIN = """
from sqlalchemy import Column, Integer

from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command
from botrt.storage import PluginStorage

PLUGIN = PluginPlanner(version="{version}")
state = {{"count": 0, "loads": []}}


@PLUGIN.on_load
def load(previous, ps: PluginStorage) -> None:
    if previous is not None:
        state.update(previous)
    state["loads"].append("{version}")
    ps.table("{table}", Column("id", Integer, primary_key=True))
    if {fail}:
        raise RuntimeError("on_load of {version} broke")


@PLUGIN.on_unload
def unload() -> dict:
    return dict(state)


@PLUGIN.use
@on_command("count")
async def count(event: TextEvent) -> None:
    state["count"] += 1
    await event.reply(f"{{state['count']}} by {version}")
"""


def source(version: str, table: str, *, fail: bool = False) -> str:
    return PLUGIN.format(version=version, table=table, fail=fail)


async def test_a_failed_on_load_leaves_the_old_version_serving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = {"counter/__plugin__.py": source("1", "kept")}
    async with running_bot(tmp_path, files) as bot:
        assert await bot.send("/count") == ["1 by 1"]
        bot.write("counter/__plugin__.py", source("2", "only_v2", fail=True))
        _, name, issues = await bot.observer.next("refused")
        assert name == "counter"
        assert "on_load failed" in issues[0]
        assert "on_load of 2 broke" in issues[0]
        assert any(
            "counter refused" in r.getMessage() and "keeps serving" in r.getMessage()
            for r in caplog.records
        )
        # The old version answers, with the state it had.
        assert await bot.send("/count") == ["2 by 1"]
        assert bot.host.runtime.plugins["counter"].version == "1"
        # What the refused load declared is withdrawn; the old version's tables stay.
        assert sorted(bot.host.storage.for_plugin("counter").tables) == ["kept"]
        # A fixed version then takes over, state and all.
        bot.write("counter/__plugin__.py", source("3", "kept"))
        assert await bot.observer.next("reloaded") == ("reloaded", "counter", "3")
        assert await bot.send("/count") == ["3 by 3"]
        assert sorted(bot.host.storage.for_plugin("counter").tables) == ["kept"]


HELD = """
import botrt_test_swap as gates
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command

PLUGIN = PluginPlanner(version="{version}")


@PLUGIN.on_load
async def load(previous) -> None:
    if "{version}" == "2":
        gates.loading.set()
        await gates.release.wait()
        raise RuntimeError("v2 cannot start")


@PLUGIN.use
@on_command("ver")
async def ver(event: TextEvent) -> None:
    await event.reply("{version}")
"""


async def test_events_held_while_a_swap_rolls_back_are_answered_by_the_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gates = types.ModuleType("botrt_test_swap")
    gates.loading = anyio.Event()
    gates.release = anyio.Event()
    monkeypatch.setitem(sys.modules, "botrt_test_swap", gates)
    folder = tmp_path / "held"
    folder.mkdir()
    (folder / "__plugin__.py").write_text(HELD.format(version="1"), encoding="utf-8")
    async with TestHost(plugins=[folder]) as host:
        runtime = host.host.runtime
        (folder / "__plugin__.py").write_text(HELD.format(version="2"), encoding="utf-8")
        new = runtime.import_plugin("held", folder)
        replies: list[list[str]] = []
        failures: list[BaseException] = []

        async def swap() -> None:
            try:
                await runtime.swap("held", new)
            except RuntimeError as exc:
                failures.append(exc)

        async def send() -> None:
            replies.append(await host.send("/ver"))

        async with anyio.create_task_group() as tg:
            tg.start_soon(swap)
            await gates.loading.wait()
            tg.start_soon(send)  # reaches the plugin mid-swap: held at the gate
            await anyio.wait_all_tasks_blocked()
            assert replies == []
            assert host.host.dispatcher.gates
            gates.release.set()
        assert [str(e) for e in failures] == ["v2 cannot start"]
        assert replies == [["1"]]
        assert not host.host.dispatcher.gates
        assert runtime.plugins["held"].version == "1"
        assert not any(m.startswith(new.namespace) for m in sys.modules)
        assert await host.send("/ver") == ["1"]
