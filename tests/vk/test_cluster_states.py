"""Durable conversation states in a cluster (issue 17, SPEC §8 and §9): a state one worker
set is honoured by the worker that takes the conversation over, two real hosts on one
PostgreSQL.

- Callback API: the conversation's partition moves to another worker (the first one
  stops); the user's next message goes to the state's flow there, not to commands.
- Long Poll: the leader changes; the same holds for the new leader.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from twohosts import LIMIT, Served, callback_bot, host_config
from twohosts import post as post_to

from botrt.config import BotConfig
from botrt.storage._internal import PARTITIONS
from botrt.testing import ManualClock
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio

GROUP, USER = 43, 7

PLUGIN = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import Conversation, on_command, on_state, on_text

PLUGIN = PluginPlanner(version="1.0.0")


@PLUGIN.use
@on_command("wait")
async def wait(event: TextEvent, conv: Conversation) -> None:
    await conv.set("wait")
    await event.reply("waiting")


@PLUGIN.use
@on_state("wait")
async def still(event: TextEvent, conv: Conversation) -> None:
    await conv.clear()
    await event.reply("got " + event.text)


@PLUGIN.use
@on_text(lambda text: not text.startswith("/"))
async def other(event: TextEvent) -> None:
    await event.reply("text:" + event.text)
"""


def config_for(vk: FakeVK, tmp_path: Path, url: str, worker: str, transport: str) -> BotConfig:
    if transport == "callback":
        bot = callback_bot(vk, "b", GROUP, "token-s")
    else:
        bot = {"name": "b", "platform": "vk", "api_url": vk.api_url, "token": "token-s"}
        bot |= {"group_id": GROUP, "transport": transport}
    return host_config(tmp_path, url, plugin=PLUGIN, bot=bot, worker=worker)


@pytest.fixture
async def vk() -> AsyncIterator[FakeVK]:
    async with FakeVK(longpoll_wait_cap=0.3) as fake:
        fake.add_group(GROUP, token="token-s", members=[USER])
        yield fake


async def post(vk: FakeVK, worker: Served, text: str) -> None:
    await post_to(vk, worker, GROUP, USER, text)


def sent(vk: FakeVK) -> list[str]:
    return [m.text for m in vk.sent_to(USER)]


async def replied(vk: FakeVK, count: int) -> list[str]:
    with anyio.fail_after(LIMIT):
        await vk.wait_for(lambda: len(sent(vk)) >= count)
    return sent(vk)


async def test_a_state_set_on_one_worker_holds_after_its_partition_moves(
    vk: FakeVK, tmp_path: Path, postgres_url: str
) -> None:
    # A clock that stands still until moved: w1 owns every partition, w2 none, until
    # w1 stops and the clock brings w2's next round of leases.
    clock = ManualClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    one = Served(config_for(vk, tmp_path, postgres_url, "w1", "callback"), clock)
    two = Served(config_for(vk, tmp_path, postgres_url, "w2", "callback"), clock)
    async with anyio.create_task_group() as tg:
        await one.start(tg)
        with anyio.fail_after(LIMIT):
            while len(one.router().assignments["b"].owned) < PARTITIONS:  # its first round
                await anyio.lowlevel.checkpoint()
        await two.start(tg)  # it loads the states now: none yet
        assert two.router().assignments["b"].mine() == []
        await post(vk, one, "/wait")
        assert await replied(vk, 1) == ["waiting"]
        await one.stop()  # gives every partition back
        assignment = two.router().assignments["b"]
        clock.advance(clock.now() + dt.timedelta(seconds=assignment.every))
        with anyio.fail_after(LIMIT):
            while len(assignment.mine()) < PARTITIONS:  # w2's next round takes them
                await anyio.lowlevel.checkpoint()
        await post(vk, two, "hello")
        assert await replied(vk, 2) == ["waiting", "got hello"]
        await post(vk, two, "again")  # the flow cleared the state, on w2
        assert await replied(vk, 3) == ["waiting", "got hello", "text:again"]
        await two.stop()


async def test_a_state_set_by_one_long_poll_leader_holds_for_the_next(
    vk: FakeVK, tmp_path: Path, postgres_url: str
) -> None:
    one = Served(config_for(vk, tmp_path, postgres_url, "w1", "longpoll"))
    two = Served(config_for(vk, tmp_path, postgres_url, "w2", "longpoll"))
    async with anyio.create_task_group() as tg:
        await one.start(tg)
        with anyio.fail_after(LIMIT):
            await vk.wait_for(lambda: vk.longpoll_requests > 0)
        assert one.leads()
        await two.start(tg)  # it loads the states now: none yet
        vk.push_message(GROUP, USER, "/wait")
        assert await replied(vk, 1) == ["waiting"]
        servers = vk.calls["groups.getLongPollServer"]
        await one.stop()  # hands the lead over at once
        with anyio.fail_after(LIMIT):
            await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] > servers)
        assert two.leads()
        vk.push_message(GROUP, USER, "hello")
        assert await replied(vk, 2) == ["waiting", "got hello"]
        await two.stop()
