"""A VK bot's rate limit holds for the whole cluster, not per worker: each live worker's
limiter gets the bot's `rate_limit` divided by the number of live workers, and follows
that number as workers join and leave.

Two real hosts on one PostgreSQL, each with its own HTTP server; FakeVK, VK's side, has
the bot's very limit and answers error 6 to a request over it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest
from twohosts import LIMIT, Served, callback_bot, host_config, post
from vkhelpers import TOKEN, ManualTimer

from botrt.config import BotConfig
from botrt.protocols.vk import VkApi, VkConfigError
from botrt.storage._internal import PARTITIONS
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio

GROUP = 43
BOT = "paced"
RATE = 20  # VK's limit for a community token, the bot's default `rate_limit`
USERS = range(1000, 1240)

PLUGIN = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command

PLUGIN = PluginPlanner(version="1.0.0")


@PLUGIN.use
@on_command("hi")
async def hi(event: TextEvent) -> None:
    await event.reply(f"hello {event.peer_id}")
"""


def config_for(vk: FakeVK, tmp_path: Path, url: str, worker: str | None) -> BotConfig:
    bot = callback_bot(vk, BOT, GROUP, "token-p")
    return host_config(tmp_path, url, plugin=PLUGIN, bot=bot, worker=worker)


@pytest.fixture
async def vk() -> AsyncIterator[FakeVK]:
    async with FakeVK(rate_limit=RATE) as fake:
        fake.add_group(GROUP, token="token-p", members=list(USERS))
        yield fake


def rate(worker: Served) -> float:
    return worker.callback()._platform.apis[BOT].rate_limit


async def until(check: Callable[[], bool]) -> None:
    # Lease rounds run on the hosts' real clock, a quarter of the lease's life apart,
    # with no event to wait on: look again shortly (not a spin that takes a core
    # from the hosts on a busy machine) until the round that makes `check` true.
    with anyio.fail_after(LIMIT):
        while not check():  # noqa: ASYNC110
            await anyio.sleep(0.01)


async def test_two_workers_replying_for_one_bot_together_stay_under_its_limit(
    vk: FakeVK, tmp_path: Path, postgres_url: str
) -> None:
    one = Served(config_for(vk, tmp_path, postgres_url, "w1"))
    two = Served(config_for(vk, tmp_path, postgres_url, "w2"))
    async with anyio.create_task_group() as tg:
        await one.start(tg)
        await two.start(tg)
        owners = [w.router().assignments[BOT] for w in (one, two)]
        # Both own half the partitions (both reply) and have counted each other: a
        # worker counts at its lease rounds, so until its next round after another
        # joined it keeps the larger share (docs/cluster.md).
        await until(lambda: all(len(a.owned) == PARTITIONS // 2 and a.live == 2 for a in owners))
        assert [rate(w) for w in (one, two)] == [RATE / 2, RATE / 2]
        for n, user in enumerate(USERS):
            await post(vk, (one, two)[n % 2], GROUP, user, "/hi")
        with anyio.fail_after(LIMIT):
            await vk.wait_for(lambda: all(vk.sent_to(u) for u in USERS))
        assert vk.rate_limited == 0  # VK refused nothing: together they kept its limit
        for user in USERS:
            assert [m.text for m in vk.sent_to(user)] == [f"hello {user}"]
        for worker in (one, two):
            assert worker.host.outbound[BOT].api.stats.requests > 0  # both replied

        # The other worker leaves: the one left gets the whole limit back.
        await two.stop()
        await until(lambda: owners[0].live == 1)
        assert rate(one) == RATE
        await one.stop()


async def test_without_a_cluster_the_worker_keeps_the_whole_limit(
    vk: FakeVK, tmp_path: Path
) -> None:
    only = Served(config_for(vk, tmp_path, f"sqlite:///{tmp_path / 'bot.db'}", None))
    async with anyio.create_task_group() as tg:
        await only.start(tg)
        assert only.callback().router is None
        assert rate(only) == RATE
        await post(vk, only, GROUP, USERS[0], "/hi")
        with anyio.fail_after(LIMIT):
            await vk.wait_for(lambda: bool(vk.sent_to(USERS[0])))
        assert rate(only) == RATE
        await only.stop()


async def test_replies_put_together_are_spaced_by_the_changed_rate() -> None:
    # Once half the slots are spent, requests go out one per 1/rate s: at the new rate.
    timer = ManualTimer()
    async with FakeVK() as fake:
        fake.add_group(GROUP, token=TOKEN)
        async with VkApi(TOKEN, api_url=fake.api_url, rate_limit=4, timer=timer) as api:
            await api.messages.send(peer_id=1, message="a")  # 1 of 4 slots spent
            api.rate_limit = 2  # a second worker joined: 1 of 2 spent
            assert api.rate_limit == 2
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: api.messages.send(peer_id=1, message="b"))
                assert await timer.wake_next() == pytest.approx(0.5)  # not 1/4
        assert [m.text for m in fake.sent] == ["a", "b"]


async def test_a_rate_limit_that_is_not_a_positive_number_is_refused() -> None:
    async with VkApi(TOKEN, rate_limit=4) as api:
        for bad in (0, -1, float("inf"), float("nan")):
            with pytest.raises(VkConfigError, match="rate"):
                api.rate_limit = bad
        assert api.rate_limit == 4
