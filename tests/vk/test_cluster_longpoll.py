"""Long Poll leadership across workers (issue 17 item 3): two workers' adapters, each with
its own storage connection, inbox and VK client, on one database and one FakeVK. Leases
are in memory (`MemoryLeases`); lease time and each worker's timer move by hand.

- a stale leader (its lease taken over while it was paused) neither stores a `ts` nor
  hands on an update: its batch is refused in the batch's own transaction;
- a dead leader is replaced within `failover`, and the new leader resumes from the
  stored `ts`: what arrived meanwhile is handled once, what was handled is not again;
- a graceful stop hands over at once, nothing handled twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.lowlevel
import pytest
from vkhelpers import ManualTimer

from botrt.adapter import Event
from botrt.protocols.vk import VkApi
from botrt.protocols.vk._adapters import VkLongPollAdapter, VkPlatform
from botrt.protocols.vk._durable import VkInbox
from botrt.protocols.vk._leader import Leadership, MemoryLeases, Tenure
from botrt.storage import Storage
from botrt.storage._internal import Inbox
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio

GROUP, TOKEN, BOT = 77, "token-77", "poller"
LEASE = f"vk-longpoll:{BOT}"
FAILOVER = 5.0
USER = 9


class Leases(MemoryLeases):
    """Leases on their own clock; owners in `cut` cannot reach them (a dead machine)."""

    def __init__(self) -> None:
        self.t = 1000.0
        super().__init__(lambda: self.t)
        self.cut: set[str] = set()

    async def acquire(self, name: str, owner: str, ttl: float) -> Tenure | None:
        if owner in self.cut:
            raise ConnectionError("cut off")
        return await super().acquire(name, owner, ttl)

    async def renew(self, tenure: Tenure, ttl: float) -> bool:
        if tenure.owner in self.cut:
            raise ConnectionError("cut off")
        return await super().renew(tenure, ttl)


class Worker:
    def __init__(self, name: str, storage: Storage, vk: FakeVK, leases: Leases) -> None:
        self.name = name
        self.timer = ManualTimer()
        self.inbox = VkInbox(Inbox(storage, now=time.time))
        self.api = VkApi(TOKEN, api_url=vk.api_url)
        self.leadership = Leadership(leases, LEASE, name, failover=FAILOVER, timer=self.timer)
        platform = VkPlatform({BOT: self.api}, self.inbox)
        self.adapter = VkLongPollAdapter(platform, BOT, GROUP, self.leadership)
        self.texts: list[str] = []
        self.scope = anyio.CancelScope()
        self._changed = anyio.Event()

    async def submit(self, event: Event) -> None:
        self.texts.append(getattr(event, "text", ""))
        if event.on_handled is not None:
            event.on_handled()
        self._changed.set()
        self._changed = anyio.Event()

    async def run(self) -> None:
        with self.scope:
            await self.adapter.run(self.submit)

    async def wait_texts(self, count: int) -> list[str]:
        with anyio.fail_after(30):
            while len(self.texts) < count:
                await self._changed.wait()
        return self.texts


async def until(predicate: object) -> None:
    with anyio.fail_after(30):
        # Leadership has no change event to wait on: look again after a short pause.
        while not predicate():  # type: ignore[operator]  # noqa: ASYNC110
            await anyio.sleep(0.005)


@asynccontextmanager
async def cluster(
    storage_url: str, vk: FakeVK, *names: str
) -> AsyncIterator[tuple[Leases, list[Worker]]]:
    leases = Leases()
    storages = [await Storage.open(storage_url) for _ in names]
    workers = [Worker(n, s, vk, leases) for n, s in zip(names, storages, strict=True)]
    try:
        async with anyio.create_task_group() as tg:
            for worker in workers:
                tg.start_soon(worker.run)
            yield leases, workers
            tg.cancel_scope.cancel()
    finally:
        for worker in workers:
            await worker.adapter.close()
        for storage in storages:
            await storage.close()


async def started(vk: FakeVK, a: Worker, b: Worker) -> None:
    """`a` leads and polls, `b` stands by."""
    await until(lambda: a.leadership.leads() and vk.longpoll_requests > 0)
    await b.timer.wait_idle(1)
    assert not b.leadership.leads()
    assert b.adapter.healthy()  # standing by is healthy: /healthz must not drop it


@pytest.fixture
async def vk() -> AsyncIterator[FakeVK]:
    async with FakeVK(longpoll_wait_cap=0.3) as fake:
        fake.add_group(GROUP, token=TOKEN, members=[USER])
        yield fake


async def test_a_stale_leader_neither_stores_ts_nor_hands_on(
    vk: FakeVK, storage_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "botrt.cluster")
    async with cluster(storage_url, vk, "a", "b") as (leases, (a, b)):
        await started(vk, a, b)
        vk.push_message(GROUP, USER, "one")
        assert await a.wait_texts(1) == ["one"]
        await a.inbox.inbox.flush()  # its "handled" mark is written (else b replays it)
        # a is paused: its own clock stands still, so it still believes it leads, but
        # its lease runs out and b takes it over.
        leases.t += a.leadership.ttl + 1
        polls = vk.longpoll_requests
        b.timer.advance(b.leadership.standby_every)
        await until(lambda: b.leadership.leads() and vk.longpoll_requests > polls + 1)
        assert a.leadership.leads()  # by its own clock
        vk.push_message(GROUP, USER, "two")
        assert await b.wait_texts(1) == ["two"]
        # a's poll got "two" too, and its batch was refused in its transaction: only the
        # fence can have told a, whose own clock never moved.
        await until(lambda: a.leadership.tenure is None)
        assert a.timer.now() == 1000.0
        assert a.texts == ["one"]
        stored = await b.inbox.resume(BOT)
        assert stored is not None
        assert stored[0] == b.adapter._poll.ts
        vk.push_message(GROUP, USER, "three")
        assert await b.wait_texts(2) == ["two", "three"]
        assert a.texts == ["one"]
    assert "worker a no longer leads vk-longpoll:poller (epoch 1)" in caplog.text


async def test_a_dead_leader_is_replaced_within_failover_from_the_stored_ts(
    vk: FakeVK, storage_url: str
) -> None:
    async with cluster(storage_url, vk, "a", "b") as (leases, (a, b)):
        await started(vk, a, b)
        vk.push_message(GROUP, USER, "one")
        assert await a.wait_texts(1) == ["one"]
        await a.inbox.inbox.flush()  # its "handled" mark is written
        # kill -9: a's tasks end, its lease stays in the store until it expires.
        leases.cut.add("a")
        a.scope.cancel()
        vk.push_message(GROUP, USER, "two")  # while nobody polls
        vk.push_message(GROUP, USER, "three")
        died = leases.t
        while not b.leadership.leads():
            leases.t += 0.1
            b.timer.advance(0.1)
            await b.timer.wait_idle(1)  # b looked (and stands by, or leads and renews)
            assert leases.t - died <= FAILOVER, "b did not take over within failover"
        assert await b.wait_texts(2) == ["two", "three"]  # resumed from the stored ts
        assert a.texts == ["one"]


async def test_a_graceful_stop_hands_over_at_once_nothing_twice(
    vk: FakeVK, storage_url: str
) -> None:
    async with cluster(storage_url, vk, "a", "b") as (leases, (a, b)):
        await started(vk, a, b)
        vk.push_message(GROUP, USER, "one")
        vk.push_message(GROUP, USER, "two")
        assert await a.wait_texts(2) == ["one", "two"]
        a.scope.cancel()  # the stop: a polls no more, keeps its lease while it drains
        await until(lambda: not a.adapter.healthy() or a.leadership.tenure is not None)
        await a.adapter.close()  # marks written, lease released
        assert await leases.holder(LEASE) is None
        b.timer.advance(b.leadership.standby_every)  # no wait for any expiry
        await until(b.leadership.leads)
        vk.push_message(GROUP, USER, "three")
        assert await b.wait_texts(1) == ["three"]
        assert a.texts == ["one", "two"]
