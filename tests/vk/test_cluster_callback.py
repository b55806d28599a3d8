"""The Callback API on two cluster workers (issue 17 items 2 and 4): two real hosts on one
PostgreSQL, each with its own HTTP server, FakeVK POSTing as VK does.

- One user's messages POSTed alternately to the two workers reach the plugin one at a
  time and in the order VK sent them.
- An `ask` waiting on one worker gets the answer POSTed to the other.
- Without a cluster nothing changes: the worker that took the update handles it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest
from anyio.abc import TaskGroup
from twohosts import LIMIT, Served, callback_bot, host_config
from twohosts import post as post_to

from botrt.config import BotConfig
from botrt.storage._internal import PARTITIONS
from botrt.testing import ManualClock
from botrt.testing._fakevk import FakeVK

pytest.importorskip("botrt.storage._lease", reason="the storage's leases (branch durable2)")

pytestmark = pytest.mark.anyio

GROUP = 41
USERS = (7, 8, 9, 10)

PLUGIN = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import CommandArgs, ask, on_command

PLUGIN = PluginPlanner(version="1.0.0")


def note(line: str) -> None:
    with open({log!r}, "a", encoding="utf-8") as log:
        log.write(line + "\\n")


@PLUGIN.use
@on_command("n")
async def numbered(event: TextEvent, args: CommandArgs) -> None:
    note(f"start {{event.peer_id}} {{args}}")
    await event.reply(f"got {{args}}")  # a round trip to VK: another run would overlap
    note(f"end {{event.peer_id}} {{args}}")


@PLUGIN.use
@on_command("name")
async def name(event: TextEvent) -> None:
    answer = await ask("your name?")
    await event.reply(f"hello {{answer.text}}")
"""


def config_for(vk: FakeVK, tmp_path: Path, url: str, worker: str | None) -> BotConfig:
    plugin = PLUGIN.format(log=str(tmp_path / "handled.log"))
    bot = callback_bot(vk, "hooked", GROUP, "token-h")
    return host_config(tmp_path, url, plugin=plugin, bot=bot, worker=worker)


@pytest.fixture
async def vk() -> AsyncIterator[FakeVK]:
    async with FakeVK() as fake:
        fake.add_group(GROUP, token="token-h", members=list(USERS))
        yield fake


async def post(vk: FakeVK, worker: Served, user: int, text: str) -> None:
    await post_to(vk, worker, GROUP, user, text)


def handled(tmp_path: Path) -> list[str]:
    path = tmp_path / "handled.log"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def sent(vk: FakeVK, user: int) -> list[str]:
    return [m.text for m in vk.sent_to(user)]


async def two_workers(vk: FakeVK, tmp_path: Path, url: str, tg: TaskGroup) -> tuple[Served, Served]:
    one = Served(config_for(vk, tmp_path, url, "w1"))
    two = Served(config_for(vk, tmp_path, url, "w2"))
    await one.start(tg)
    await two.start(tg)
    return one, two


async def test_one_users_messages_to_two_workers_are_handled_one_at_a_time_in_order(
    vk: FakeVK, tmp_path: Path, postgres_url: str
) -> None:
    count = 12
    async with anyio.create_task_group() as tg:
        one, two = await two_workers(vk, tmp_path, postgres_url, tg)
        for user in USERS[:2]:
            for n in range(count):
                # VK sends the next update once the last one was answered `ok`.
                await post(vk, (one, two)[n % 2], user, f"/n {n}")
        with anyio.fail_after(LIMIT):
            await vk.wait_for(lambda: all(len(sent(vk, u)) == count for u in USERS[:2]))
        for worker in (one, two):
            # What a worker only recorded is not kept in memory as its own: no leak.
            assert not worker.inbox()._inflight
        await one.stop()
        await two.stop()
    lines = handled(tmp_path)
    for user in USERS[:2]:
        mine = [line for line in lines if line.split(" ")[1] == str(user)]
        expected = [f"{step} {user} {n}" for n in range(count) for step in ("start", "end")]
        assert mine == expected  # never two at once, never out of VK's order
        assert sent(vk, user) == [f"got {n}" for n in range(count)]


async def test_an_update_that_reached_another_worker_wakes_the_owner_at_once(
    vk: FakeVK, tmp_path: Path, postgres_url: str
) -> None:
    # A clock that stands still: no lease round after the first (w1 owns everything, w2
    # nothing) and no reading on a timer. Only PostgreSQL's NOTIFY can wake w1.
    clock = ManualClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    one = Served(config_for(vk, tmp_path, postgres_url, "w1"))
    two = Served(config_for(vk, tmp_path, postgres_url, "w2"))
    one.host.info.clock = two.host.info.clock = clock
    async with anyio.create_task_group() as tg:
        await one.start(tg)
        with anyio.fail_after(LIMIT):
            while len(one.router().assignments["hooked"].owned) < PARTITIONS:  # first round
                await anyio.lowlevel.checkpoint()
        await two.start(tg)
        for n in range(3):
            await post(vk, two, USERS[0], f"/n {n}")
            with anyio.fail_after(LIMIT):
                await vk.wait_for(lambda n=n: len(sent(vk, USERS[0])) == n + 1)
        assert len(one.router().assignments["hooked"].mine()) == PARTITIONS
        assert two.router().assignments["hooked"].mine() == []
        await one.stop()
        await two.stop()
    assert sent(vk, USERS[0]) == [f"got {n}" for n in range(3)]


async def test_an_ask_on_one_worker_gets_the_answer_posted_to_the_other(
    vk: FakeVK, tmp_path: Path, postgres_url: str
) -> None:
    async with anyio.create_task_group() as tg:
        one, two = await two_workers(vk, tmp_path, postgres_url, tg)
        for user in USERS:
            await post(vk, one, user, "/name")
        with anyio.fail_after(LIMIT):
            await vk.wait_for(lambda: all(sent(vk, u) == ["your name?"] for u in USERS))
        for user in USERS:
            await post(vk, two, user, f"user {user}")
        with anyio.fail_after(LIMIT):
            await vk.wait_for(lambda: all(len(sent(vk, u)) == 2 for u in USERS))
        await one.stop()
        await two.stop()
    for user in USERS:
        assert sent(vk, user) == ["your name?", f"hello user {user}"]


async def test_without_a_cluster_the_receiving_worker_handles_the_update(
    vk: FakeVK, tmp_path: Path
) -> None:
    only = Served(config_for(vk, tmp_path, f"sqlite:///{tmp_path / 'bot.db'}", None))
    async with anyio.create_task_group() as tg:
        await only.start(tg)
        assert only.callback().router is None
        await post(vk, only, USERS[0], "/n 1")
        with anyio.fail_after(LIMIT):
            await vk.wait_for(lambda: sent(vk, USERS[0]) == ["got 1"])
        await only.stop()
