"""Lifecycle: on_load/on_unload and the state hand-over between versions."""

from __future__ import annotations

from pathlib import Path

import pytest
from pluginkit import write_plugin

from botrt.testing import TestHost

pytestmark = pytest.mark.anyio

COUNTER = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command
from botrt.plugin import PluginSettings

PLUGIN = PluginPlanner(version="{version}")
state = {{"count": 0, "loads": []}}


@PLUGIN.on_load
async def restore(previous, settings: PluginSettings) -> None:
    if previous is not None:
        state.update(previous)
    state["loads"].append("{version}")


@PLUGIN.on_unload
def save() -> dict:
    return dict(state)


@PLUGIN.use
@on_command("count")
async def count(event: TextEvent) -> None:
    state["count"] += 1
    await event.reply(f"{{state['count']}} via {{'/'.join(state['loads'])}}")
"""


async def test_state_is_handed_from_the_old_version_to_the_new(tmp_path: Path) -> None:
    folder = write_plugin(tmp_path, "counter", {"__plugin__.py": COUNTER.format(version="1")})
    async with TestHost(plugins=[folder]) as host:
        assert await host.send("/count") == ["1 via 1"]
        assert await host.send("/count") == ["2 via 1"]
        (folder / "__plugin__.py").write_text(COUNTER.format(version="2"), encoding="utf-8")
        runtime = host.host.runtime
        new = runtime.import_plugin("counter", folder)
        old = await runtime.swap("counter", new)
        assert old is not None
        assert old.version == "1"
        assert await host.send("/count") == ["3 via 1/2"]


async def test_unload_runs_on_unload_and_removes_commands(tmp_path: Path) -> None:
    folder = write_plugin(tmp_path, "counter", {"__plugin__.py": COUNTER.format(version="1")})
    async with TestHost(plugins=[folder]) as host:
        assert await host.send("/count") == ["1 via 1"]
        await host.host.runtime.swap("counter", None)
        assert await host.send("/count") == []
        assert host.host.catalog.all() == []


async def test_bot_info_is_injected(tmp_path: Path) -> None:
    source = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command
from botrt.plugin import BotInfo

PLUGIN = PluginPlanner(version="1")


@PLUGIN.use
@on_command("info")
async def info(event: TextEvent, bot: BotInfo) -> None:
    await event.reply(f"{bot.name} {bot.timezone} {bot.prefixes} {bot.today() == bot.now().date()}")
"""
    folder = write_plugin(tmp_path, "info", {"__plugin__.py": source})
    config = {"bot": {"name": "group bot", "timezone": "Asia/Yekaterinburg", "prefixes": ["!"]}}
    async with TestHost(plugins=[folder], config=config) as host:
        assert await host.send("!info") == ["group bot Asia/Yekaterinburg ('!',) True"]


OPTIONAL = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command
from botrt.protocols.vk import VkApi
from botrt.storage import PluginStorage

PLUGIN = PluginPlanner(version="1.0.0")
seen = []


def say(api, storage):
    return f"api {api is not None}, storage {storage is not None}"


@PLUGIN.on_load
async def start(api: VkApi | None, storage: PluginStorage | None) -> None:
    seen.append(say(api, storage))


@PLUGIN.use
@on_command("where")
async def where(event: TextEvent, api: VkApi | None, storage: PluginStorage | None) -> None:
    await event.reply(f"on_load: {seen[-1]}; node: {say(api, storage)}")
"""


async def test_an_optional_service_is_none_where_it_is_missing(tmp_path: Path) -> None:
    # No VK bot: there is no VkApi to give, so `VkApi | None` receives None
    # (a plain `VkApi` would skip the node, or refuse the on_load).
    folder = write_plugin(tmp_path, "opt", {"__plugin__.py": OPTIONAL})
    async with TestHost(plugins=[folder]) as host:
        assert await host.send("/where") == [
            "on_load: api False, storage True; node: api False, storage True"
        ]
