"""`StorageLeases` (issue 17 item 3): leadership's view of the storage's leases, and the
fence: a takeover cannot commit between a leader's check and its batch's commit.

The fence test needs PostgreSQL's row locks; the rest runs on both engines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import anyio
import pytest
from sqlalchemy import text

from botrt.storage import Storage
from botrt.testing import ManualClock

pytest.importorskip("botrt.storage._lease", reason="the storage's leases (branch durable2)")

from botrt.protocols.vk._leader import Tenure
from botrt.protocols.vk._leases import StorageLeases

pytestmark = pytest.mark.anyio

START = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)
NAME = "vk-longpoll:g"


@pytest.fixture
async def pair(storage_url: str) -> AsyncIterator[tuple[Storage, Storage]]:
    one, two = await Storage.open(storage_url), await Storage.open(storage_url)
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


async def test_acquire_renew_release_as_leadership_needs(pair: tuple[Storage, Storage]) -> None:
    clock = ManualClock(START)
    a, b = StorageLeases(pair[0], clock), StorageLeases(pair[1], clock)
    held = await a.acquire(NAME, "a", 3.0)
    assert held == Tenure(NAME, "a", 1)
    assert await b.acquire(NAME, "b", 3.0) is None
    assert await b.holder(NAME) == "a"
    assert await a.renew(held, 3.0) is True
    clock.advance(START + dt.timedelta(seconds=4))  # a missed its renewals: expired
    taken = await b.acquire(NAME, "b", 3.0)
    assert taken == Tenure(NAME, "b", 2)
    assert await a.renew(held, 3.0) is False  # lost, said plainly
    await a.release(held)  # a lost lease is not a's to free
    assert await a.holder(NAME) == "b"
    async with pair[0].transaction(write=True) as conn:
        assert await a.holds(conn, held) is False
        assert await a.holds(conn, taken) is True
    await b.release(taken)
    assert await a.holder(NAME) is None


async def test_a_takeover_waits_for_the_fenced_batch(postgres_url: str) -> None:
    clock = ManualClock(START)
    async with await Storage.open(postgres_url) as one, await Storage.open(postgres_url) as two:
        a, b = StorageLeases(one, clock), StorageLeases(two, clock)
        held = await a.acquire(NAME, "a", 3.0)
        assert held is not None
        clock.advance(START + dt.timedelta(seconds=4))  # expired: b may take it
        taken: list[Tenure | None] = []

        async def take() -> None:
            taken.append(await b.acquire(NAME, "b", 3.0))

        async with anyio.create_task_group() as tg, one.transaction(write=True) as conn:
            assert await a.holds(conn, held) is True  # the batch's check: row locked
            tg.start_soon(take)
            # b's update waits for a's lock: seen in pg_stat_activity, not guessed
            # by time (the database has no event to wait on).
            with anyio.fail_after(30):
                while not await waiting_for_a_lock(two):  # noqa: ASYNC110
                    await anyio.sleep(0.01)
            assert taken == []
            # The transaction ends first (a's batch commits), then the task group
            # waits for b's takeover, which goes through only now.
        assert taken == [Tenure(NAME, "b", 2)]
        async with one.transaction(write=True) as conn:
            assert await a.holds(conn, held) is False  # a's next batch is refused


async def waiting_for_a_lock(storage: Storage) -> bool:
    async with storage.transaction(write=False) as conn:
        waiting = await conn.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        )
    return bool(waiting)
