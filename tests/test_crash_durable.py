"""`kill -9` of `botrt serve` at random points: nothing accepted is lost, nothing is sent twice
(issue 16 item 5, for the Long Poll and the Callback API).

Real `botrt serve` processes, one after another, on one storage (SQLite; PostgreSQL too
when it is installed), against FakeVK: a Long Poll bot receives updates FakeVK queues
(also while no process runs), and a Callback bot receives updates the test POSTs the
way VK does: an update without an `ok` (the process is dead, or dies before answering)
is sent again until one comes, and now and then an update already answered `ok` is
sent again, as VK does when an answer was lost. Each process is killed with SIGKILL
after a random time: while it starts, replays, polls, answers or replies.

At the end one process runs until every update is answered, and the test counts:

- every update was handled (its reply reached FakeVK);
- none was replied to twice: an update handled again after a kill (it was handled,
  but its "handled" mark had not been written yet) replies with the same `random_id`,
  which VK (and FakeVK) drop; the plugin's own log shows how many were handled again.

The default run kills a handful of times; ``BOTRT_SLOW=1`` runs the 100-kill loop.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

from _workers import (
    LIMIT,
    Worker,
    replies,
    tallied,
    vk_bot,
    write_config,
    write_tally,
)
from botrt.testing._fakevk import FakeVK
from botrt.testing._ports import free_port

pytestmark = pytest.mark.anyio

POLLED, HOOKED = 10, 20
USERS = range(1000, 1050)  # FakeVK, as VK, remembers the last 100 random_ids per peer
KILLS_IN_CI = 5
KILLS_SLOW = 100


def write_bot(tmp_path: Path, vk: FakeVK, storage_url: str, port: int) -> Path:
    return write_config(
        tmp_path / "bot.toml",
        plugins=write_tally(tmp_path),
        storage_url=storage_url,
        port=port,
        bots=[
            vk_bot(vk, "poller", POLLED, "token-a"),
            vk_bot(vk, "hooked", HOOKED, "token-b", secret="s3cret"),
        ],
    )


class Traffic:
    """VK's side: queues Long Poll updates and POSTs Callback updates until each gets `ok`."""

    def __init__(self, vk: FakeVK, url: str, rng: random.Random) -> None:
        self.vk = vk
        self.url = url
        self.rng = rng
        self.sent: list[str] = []  # every update's tag, Long Poll and Callback
        self.unanswered: list[dict[str, Any]] = []  # Callback updates without an `ok` yet
        self.answered: list[dict[str, Any]] = []
        self.tried: set[str] = set()  # event ids posted at least once
        self.resent_after_ok = 0
        self._n = 0

    def _message(self, group: int, prefix: str) -> tuple[str, dict[str, Any]]:
        self._n += 1
        tag = f"{prefix}{self._n}"
        self.sent.append(tag)
        return tag, self.vk.build_message(group, self.rng.choice(USERS), f"/n {tag}")

    async def post(self, update: dict[str, Any], counter: int | None) -> bool:
        (answer,) = await self.vk.deliver_callback(
            self.url, update, secret="s3cret", retry_counter=counter, request_timeout=10
        )
        return answer.status == 200 and answer.text == "ok"

    async def run(self) -> None:
        while True:
            roll = self.rng.random()
            if roll < 0.4:
                _, update = self._message(POLLED, "p")
                self.vk.push(update)
            elif roll < 0.8:
                _, update = self._message(HOOKED, "h")
                self.unanswered.append(update)
            elif roll < 0.9 and self.answered:
                # VK lost our `ok` and sends it again: it must not be handled twice.
                self.resent_after_ok += 1
                await self.post(self.rng.choice(self.answered), 1)
            await self.retry_unanswered()
            await anyio.sleep(self.rng.uniform(0.005, 0.05))

    async def retry_unanswered(self) -> None:
        for update in list(self.unanswered):
            retry = update["event_id"] in self.tried
            self.tried.add(update["event_id"])
            if await self.post(update, 1 if retry else None):
                self.unanswered.remove(update)
                self.answered.append(update)


async def crash_loop(tmp_path: Path, storage_url: str, kills: int) -> None:
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    port = free_port()
    async with FakeVK(longpoll_wait_cap=0.5) as vk:
        vk.add_group(POLLED, token="token-a", members=list(USERS))
        vk.add_group(HOOKED, token="token-b", members=list(USERS))
        bot = Worker(write_bot(tmp_path, vk, storage_url, port), "bot", port)
        traffic = Traffic(vk, f"http://127.0.0.1:{port}/vk/hooked", rng)
        # The bot's first start: what VK queued before it ever polled is not its to
        # handle; from its first `a_check` on, its position is stored.
        async with bot.running():
            with anyio.fail_after(LIMIT):
                await vk.wait_for(lambda: vk.longpoll_requests > 0)
            await bot.kill()
        async with anyio.create_task_group() as tg:
            tg.start_soon(traffic.run)
            for _ in range(kills):
                async with bot.running():
                    # Any point: while it imports, opens the storage, replays (a kill
                    # in four), or once it polls, answers and replies. Wall time only
                    # spreads the kills out; nothing is asserted about it.
                    if rng.random() < 0.75:
                        polls = vk.calls["groups.getLongPollServer"]
                        with anyio.fail_after(LIMIT):
                            await vk.wait_for(
                                lambda: vk.calls["groups.getLongPollServer"] > polls  # noqa: B023
                            )
                        await anyio.sleep(rng.uniform(0.0, 1.5))
                    else:
                        await anyio.sleep(rng.uniform(0.0, 3.0))
                    await bot.kill()
            tg.cancel_scope.cancel()
        polls = vk.calls["groups.getLongPollServer"]
        async with bot.running():
            with anyio.fail_after(LIMIT):
                while traffic.unanswered:
                    await traffic.retry_unanswered()
                    await anyio.sleep(0.05)  # the restart is not listening yet
                await vk.wait_for(lambda: set(replies(vk)) >= set(traffic.sent))
                # Every reply may predate this process: stop it only once it serves
                # (it polls), or the signal could come before its handler is set.
                await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] > polls)
            assert await bot.terminate() == 0
    got = replies(vk)
    handled = Counter(tag for _, _, tag in tallied(tmp_path))
    context = (
        f"seed {seed}: {len(traffic.sent)} updates, {kills} kills, "
        f"{traffic.resent_after_ok} resent after ok, "
        f"{sum(n - 1 for n in handled.values())} handled again after a kill"
    )
    missing = [tag for tag in traffic.sent if not got[tag]]
    twice = {tag: n for tag, n in got.items() if n > 1}
    assert not missing, f"{context}; never replied to: {missing}"
    assert not twice, f"{context}; replied to more than once: {twice}"
    assert set(handled) == set(traffic.sent), context
    print(context)


@pytest.mark.timeout(900)
async def test_kill_9_at_random_points_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, storage_url: str
) -> None:
    await crash_loop(tmp_path, storage_url, KILLS_IN_CI)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("BOTRT_SLOW") != "1", reason="the 100-kill loop: BOTRT_SLOW=1")
@pytest.mark.timeout(7200)
async def test_kill_9_a_hundred_times(tmp_path: Path, storage_url: str) -> None:
    await crash_loop(tmp_path, storage_url, KILLS_SLOW)
