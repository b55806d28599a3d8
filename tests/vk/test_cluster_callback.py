"""The Callback API on two cluster workers (issue 17 items 2 and 4): two real hosts on one
PostgreSQL, each with its own HTTP server, FakeVK POSTing as VK does.

- One user's messages POSTed alternately to the two workers reach the plugin one at a
  time and in the order VK sent them.
- An `ask` waiting on one worker gets the answer POSTed to the other.
- Without a cluster nothing changes: the worker that took the update handles it.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from botrt.config import parse_config
from botrt.host import Host
from botrt.protocols.vk._adapters import VkCallbackAdapter
from botrt.protocols.vk._routing import CallbackRouter
from botrt.storage._internal import PARTITIONS, Inbox
from botrt.testing import ManualClock
from botrt.testing._fakevk import FakeVK

pytest.importorskip("botrt.storage._lease", reason="the storage's leases (branch durable2)")

pytestmark = pytest.mark.anyio

GROUP, SECRET = 41, "s3cret"
USERS = (7, 8, 9, 10)
LIMIT = 30  # catches a hang only

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


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config_for(vk: FakeVK, tmp_path: Path, url: str, worker: str | None) -> Any:
    plugins = tmp_path / "plugins" / "turns"
    if not plugins.exists():
        plugins.mkdir(parents=True)
        log = str(tmp_path / "handled.log")
        (plugins / "__plugin__.py").write_text(PLUGIN.format(log=log), encoding="utf-8")
    data: dict[str, Any] = {
        "plugins": {"dirs": [str(tmp_path / "plugins")], "builtin": False},
        "storage": {"url": url},
        "server": {"host": "127.0.0.1", "port": free_port()},
        "bots": [
            {"name": "hooked", "platform": "vk", "api_url": vk.api_url, "token": "token-h"}
            | {"group_id": GROUP, "transport": "callback", "path": "/vk/hooked"}
            | {"secret": SECRET, "confirmation": "abc"}
        ],
    }
    if worker is not None:
        data["cluster"] = {"enabled": True, "worker_id": worker, "failover": 3}
    return parse_config(data, base_dir=tmp_path)


class Served:
    """A host serving in the background until `stop` (as `botrt serve` does)."""

    def __init__(self, config: Any) -> None:
        self.host = Host(config)
        self.host.drain_grace = 5
        self.url = f"http://127.0.0.1:{config.server.port}/vk/hooked"
        self._done = anyio.Event()

    async def start(self, tg: Any) -> None:
        started = anyio.Event()
        tg.start_soon(self._run, started)
        with anyio.fail_after(60):
            await started.wait()
            while self.host.web.runner is None:  # the server listens once it has a runner
                await anyio.lowlevel.checkpoint()

    async def _run(self, started: anyio.Event) -> None:
        assert not await self.host.start()
        started.set()
        try:
            await self.host.serve(signals=False)
        finally:
            await self.host.stop()
            self._done.set()

    async def stop(self) -> None:
        self.host.request_stop()
        with anyio.fail_after(LIMIT):
            await self._done.wait()

    def inbox(self) -> Inbox:
        (adapter,) = [a for a in self.host.adapters if isinstance(a, VkCallbackAdapter)]
        assert adapter._platform.inbox is not None
        return adapter._platform.inbox.inbox

    def router(self) -> CallbackRouter:
        (adapter,) = [a for a in self.host.adapters if isinstance(a, VkCallbackAdapter)]
        assert adapter.router is not None
        return adapter.router


@pytest.fixture
async def vk() -> AsyncIterator[FakeVK]:
    async with FakeVK() as fake:
        fake.add_group(GROUP, token="token-h", members=list(USERS))
        yield fake


async def post(vk: FakeVK, worker: Served, user: int, text: str) -> None:
    update = vk.build_message(GROUP, user, text)
    (answer,) = await vk.deliver_callback(worker.url, update, secret=SECRET)
    assert (answer.status, answer.text) == (200, "ok")


def handled(tmp_path: Path) -> list[str]:
    path = tmp_path / "handled.log"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def sent(vk: FakeVK, user: int) -> list[str]:
    return [m.text for m in vk.sent_to(user)]


async def two_workers(vk: FakeVK, tmp_path: Path, url: str, tg: Any) -> tuple[Served, Served]:
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
        (adapter,) = [a for a in only.host.adapters if isinstance(a, VkCallbackAdapter)]
        assert adapter.router is None
        await post(vk, only, USERS[0], "/n 1")
        with anyio.fail_after(LIMIT):
            await vk.wait_for(lambda: sent(vk, USERS[0]) == ["got 1"])
        await only.stop()
