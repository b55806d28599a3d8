"""VK end to end: FakeVK on loopback, a real host, real plugins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from botrt.config import parse_config
from botrt.host import Host
from botrt.protocols.vk import MessageNew
from botrt.testing._fakevk import FakeVK
from botrt.testing._ports import free_port

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]

WHO = """
from botrt import PluginPlanner
from botrt.handle import on_command
from botrt.protocols.vk import MessageNew, VkApi

PLUGIN = PluginPlanner(version="1.0.0")


@PLUGIN.use
@on_command("who")
async def who(event: MessageNew, api: VkApi) -> None:
    (user,) = await api.call("users.get", user_ids=event.user_id)
    await event.reply(f"{user['first_name']} in {event.bot}, chat={event.is_chat}")
"""


def bots_config(vk: FakeVK, tmp_path: Path, bots: list[dict[str, Any]]) -> Any:
    who = tmp_path / "plugins" / "who"
    who.mkdir(parents=True)
    (who / "__plugin__.py").write_text(WHO, encoding="utf-8")
    return parse_config(
        {
            "plugins": {"dirs": [str(ROOT / "examples"), str(tmp_path / "plugins")]},
            "storage": {"url": "sqlite:///:memory:"},
            "server": {"host": "127.0.0.1", "port": free_port()},
            "bots": [{"platform": "vk", "api_url": vk.api_url, **b} for b in bots],
        },
        base_dir=tmp_path,
    )


async def polling(vk: FakeVK, bots: int = 1) -> None:
    # Like VK, FakeVK only delivers what happens after getLongPollServer answered.
    with anyio.fail_after(10):
        await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] >= bots)


@asynccontextmanager
async def serving(config: Any) -> AsyncIterator[Host]:
    host = Host(config)
    issues = await host.start()
    assert not issues
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: host.serve(signals=False))
            yield host
            host.request_stop()
    finally:
        await host.stop()


async def test_long_poll_round_trip(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        vk.add_group(10, token="token-a", members=[5])
        vk.add_user(5, "Ann", "Lee")
        config = bots_config(vk, tmp_path, [{"name": "g10", "token": "token-a", "group_id": 10}])
        async with serving(config):
            await polling(vk)
            vk.push_message(10, from_id=5, text="/echo hello vk")
            vk.push_message(10, from_id=5, text="/who")
            with anyio.fail_after(10):
                await vk.wait_for(lambda: len(vk.sent_to(5)) >= 2)
            assert [m.text for m in vk.sent_to(5)] == ["hello vk", "Ann in g10, chat=False"]
            assert {m.group_id for m in vk.sent_to(5)} == {10}


async def test_a_mention_of_the_bot_in_a_chat_still_runs_the_command(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        vk.add_group(10, token="token-a", members=[5])
        config = bots_config(vk, tmp_path, [{"name": "g10", "token": "token-a", "group_id": 10}])
        async with serving(config):
            await polling(vk)
            vk.push_message(10, from_id=5, text="[club10|@bot] /echo in chat", peer_id=2000000001)
            with anyio.fail_after(10):
                await vk.wait_for(lambda: bool(vk.sent_to(2000000001)))
            assert [m.text for m in vk.sent_to(2000000001)] == ["in chat"]


async def test_two_bots_long_poll_and_callback_in_one_host(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        vk.add_group(10, token="token-a", members=[5])
        vk.add_group(20, token="token-b", members=[6])
        vk.add_user(6, "Bo")
        config = bots_config(
            vk,
            tmp_path,
            [
                {"name": "poller", "token": "token-a", "group_id": 10},
                {
                    "name": "hooked",
                    "token": "token-b",
                    "group_id": 20,
                    "transport": "callback",
                    "path": "/vk/hooked",
                    "secret": "s3cret",
                    "confirmation": "abc123",
                },
            ],
        )
        async with serving(config) as host:
            with anyio.fail_after(10):
                while host.web.runner is None:
                    await anyio.lowlevel.checkpoint()
            url = f"http://127.0.0.1:{host.web.port}/vk/hooked"
            confirm = vk.make_event(20, "confirmation", {})
            (answer,) = await vk.deliver_callback(url, confirm, secret="s3cret")
            assert answer.text == "abc123"
            update = vk.build_message(20, 6, "/who")
            (answer,) = await vk.deliver_callback(url, update, secret="s3cret")
            assert answer.text == "ok"
            await polling(vk)
            vk.push_message(10, from_id=5, text="/echo via poll")
            with anyio.fail_after(10):
                await vk.wait_for(lambda: bool(vk.sent_to(6)) and bool(vk.sent_to(5)))
            assert [(m.group_id, m.text) for m in vk.sent_to(6)] == [
                (20, "Bo in hooked, chat=False")
            ]
            assert [(m.group_id, m.text) for m in vk.sent_to(5)] == [(10, "via poll")]


async def test_vk_api_is_not_injected_for_other_platforms(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        vk.add_group(10, token="token-a")
        config = bots_config(vk, tmp_path, [{"name": "g10", "token": "token-a", "group_id": 10}])
        host = Host(config)
        await host.start()
        try:
            from botrt.testing import MemoryEvent

            event = MemoryEvent("/who")
            await host.handle(event)
            assert event.replies == []  # `who` wants a MessageNew and a VkApi: skipped
            assert MessageNew is not None
        finally:
            await host.stop()
