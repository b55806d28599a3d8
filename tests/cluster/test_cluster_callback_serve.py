"""Two `botrt serve` workers behind one Callback API (issue 17 item 2, a dead owner): the first
worker owns every conversation's partition and has taken updates that VK keeps unanswered
(`messages.send` held) when it is killed with SIGKILL; the second takes its partitions
once they run out, within `[cluster] failover`, and handles those updates and the new
ones. Each user sees each reply once (the reply's `random_id` is derived from the update).
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from _workers import Worker, until, vk_bot, write_config, write_plugin
from botrt.testing._fakevk import FakeVK
from botrt.testing._ports import free_port

pytest.importorskip("botrt.storage._lease", reason="the storage's leases (branch durable2)")

pytestmark = pytest.mark.anyio

GROUP, SECRET = 12, "s3cret"
USERS = range(3000, 3006)
FAILOVER = 3  # lease 1.2 s, renewed every 0.3 s: a busy machine keeps it

PLUGIN = """
import os

from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import CommandArgs, on_command

PLUGIN = PluginPlanner(version="1.0.0")


def note(line: str) -> None:
    with open({log!r}, "a", encoding="utf-8") as log:
        log.write(f"{{line}} {{os.getpid()}}\\n")


@PLUGIN.use
@on_command("n")
async def tally(event: TextEvent, args: CommandArgs) -> None:
    note(f"start {{args}}")
    await event.reply(f"got {{args}}")
    note(f"end {{args}}")
"""


def worker(tmp_path: Path, vk: FakeVK, storage_url: str, name: str) -> Worker:
    port = free_port()
    config = write_config(
        tmp_path / f"{name}.toml",
        plugins=write_plugin(tmp_path, PLUGIN.format(log=str(tmp_path / "handled.log"))),
        storage_url=storage_url,
        port=port,
        cluster={"worker_id": name, "failover": FAILOVER},
        bots=[vk_bot(vk, "hooked", GROUP, "token-h", secret=SECRET)],
    )
    return Worker(config, name, port)


async def start(worker: Worker) -> None:
    await worker.start()
    await worker.ready()


def handled(tmp_path: Path) -> list[tuple[str, str, int]]:
    path = tmp_path / "handled.log"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [(step, tag, int(pid)) for step, tag, pid in (line.split() for line in lines)]


async def post(vk: FakeVK, worker: Worker, user: int, text: str) -> None:
    update = vk.build_message(GROUP, user, text)
    (answer,) = await vk.deliver_callback(f"{worker.url}/vk/hooked", update, secret=SECRET)
    assert (answer.status, answer.text) == (200, "ok")


@pytest.mark.timeout(600)
async def test_kill_9_of_the_owner_a_survivor_handles_what_it_left_within_failover(
    tmp_path: Path, postgres_url: str
) -> None:
    async with FakeVK() as vk:
        vk.add_group(GROUP, token="token-h", members=list(USERS))
        one = worker(tmp_path, vk, postgres_url, "w1")
        two = worker(tmp_path, vk, postgres_url, "w2")
        before = [f"b{user}" for user in USERS]
        after = [f"a{user}" for user in USERS]
        try:
            await start(one)
            await one.wait_says("worker w1 owns partitions")
            vk.hold("messages.send")  # w1 takes the updates and cannot finish them
            for user, tag in zip(USERS, before, strict=True):
                await post(vk, one, user, f"/n {tag}")
            await until(lambda: {t for s, t, _ in handled(tmp_path) if s == "start"} >= set(before))
            await start(two)
            await two.wait_says("worker w2 owns partitions")  # the idle ones w1 gave back
            killed = time.monotonic()
            assert await one.kill() == -signal.SIGKILL
            vk.release("messages.send")
            for user, tag in zip(USERS, after, strict=True):
                await post(vk, two, user, f"/n {tag}")
            survivor = two.pid
            await until(
                lambda: (
                    {t for s, t, pid in handled(tmp_path) if s == "end" and pid == survivor}
                    >= set(before)
                )
            )
            failover = time.monotonic() - killed
            await until(lambda: {t for s, t, _ in handled(tmp_path) if s == "end"} >= set(after))
            assert await two.terminate() == 0
        finally:
            await one.close()
            await two.close()
        print(f"partitions taken over and handled {failover:.2f} s after kill -9")
        assert two.says("worker w2 owns partitions")
        replies = Counter(m.text for m in vk.sent if m.group_id == GROUP)
        assert replies == Counter(f"got {tag}" for tag in before + after)  # each once
        # Every update w1 had in hand was handled again by w2, in its user's order.
        for user, first, second in zip(USERS, before, after, strict=True):
            ends = [t for s, t, pid in handled(tmp_path) if s == "end" and t in (first, second)]
            assert ends == [first, second], user
        assert os.getpid() not in {pid for *_, pid in handled(tmp_path)}
        # Within `failover` by design; the bound here is loose, the machine is shared.
        assert failover < FAILOVER + 10
