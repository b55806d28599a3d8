"""Committed writes survive a restart; concurrent writers all land."""

from __future__ import annotations

import anyio
import pytest
from sqlalchemy import BigInteger, Column, Integer, String, func, select

from botrt.storage import PluginStorage, Storage

pytestmark = pytest.mark.anyio


def declare(ps: PluginStorage) -> None:
    ps.table(
        "marks",
        Column("id", Integer, primary_key=True),
        Column("user_id", BigInteger, nullable=False),
        Column("lesson", String(50), nullable=False),
    )


async def count(ps: PluginStorage) -> int:
    value = await ps.scalar(select(func.count()).select_from(ps.tables["marks"]))
    return int(value)


async def test_write_close_reopen(storage_url: str) -> None:
    storage = await Storage.open(storage_url)
    ps = storage.for_plugin("attendance")
    declare(ps)
    await ps.migrate(1)
    async with ps.begin() as conn:
        await conn.execute(ps.tables["marks"].insert().values(user_id=42, lesson="math"))
    await ps.kv_set("last", {"user": 42})
    await storage.close()

    async with await Storage.open(storage_url) as reopened:
        again = reopened.for_plugin("attendance")
        declare(again)
        await again.migrate(1)
        row = await again.fetch_one(select(again.tables["marks"]))
        assert row is not None
        assert (row.user_id, row.lesson) == (42, "math")
        assert await again.kv_get("last") == {"user": 42}


async def test_fifty_concurrent_writers_all_land(storage: Storage) -> None:
    ps = storage.for_plugin("attendance")
    declare(ps)
    await ps.migrate(1)
    marks = ps.tables["marks"]

    async def mark(user_id: int) -> None:
        if user_id % 2:
            await ps.execute(marks.insert().values(user_id=user_id, lesson="x"))
        else:
            async with ps.begin() as conn:
                await conn.execute(marks.insert().values(user_id=user_id, lesson="x"))
                await conn.execute(marks.insert().values(user_id=-user_id, lesson="y"))

    async def read() -> None:
        await count(ps)

    async with anyio.create_task_group() as tg:
        for user_id in range(1, 51):
            tg.start_soon(mark, user_id)
            tg.start_soon(read)
    assert await count(ps) == 50 + 25


async def test_concurrent_read_modify_write_keeps_every_increment(storage: Storage) -> None:
    ps = storage.for_plugin("counter")
    counters = ps.table(
        "counters", Column("name", String(20), primary_key=True), Column("n", Integer)
    )
    await ps.create_all()
    await ps.execute(counters.insert().values(name="hits", n=0))

    async def bump() -> None:
        async with ps.begin() as conn:
            current = await conn.scalar(select(counters.c.n).with_for_update())
            await conn.execute(counters.update().values(n=current + 1))

    async with anyio.create_task_group() as tg:
        for _ in range(30):
            tg.start_soon(bump)
    assert await ps.scalar(select(counters.c.n)) == 30


async def test_two_storages_on_one_database_write_concurrently(storage_url: str) -> None:
    # Two Storage objects stand in for two processes sharing one SQLite file: they do
    # not share the write lock, so the busy timeout has to make them take turns.
    first = await Storage.open(storage_url)
    second = await Storage.open(storage_url)
    try:
        handles = [first.for_plugin("attendance"), second.for_plugin("attendance")]
        for ps in handles:
            declare(ps)
        await handles[0].migrate(1)
        await handles[1].migrate(1)

        async def write(ps: PluginStorage, user_id: int) -> None:
            await ps.execute(ps.tables["marks"].insert().values(user_id=user_id, lesson="x"))

        async with anyio.create_task_group() as tg:
            for user_id in range(40):
                tg.start_soon(write, handles[user_id % 2], user_id)
        assert await count(handles[0]) == 40
    finally:
        await first.close()
        await second.close()


async def test_close_waits_for_the_write_in_progress(storage_url: str) -> None:
    storage = await Storage.open(storage_url)
    ps = storage.for_plugin("attendance")
    declare(ps)
    await ps.migrate(1)
    inside = anyio.Event()
    release = anyio.Event()

    async def slow_write() -> None:
        async with ps.begin() as conn:
            await conn.execute(ps.tables["marks"].insert().values(user_id=1, lesson="x"))
            inside.set()
            await release.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(slow_write)
        await inside.wait()
        tg.start_soon(storage.close)
        await anyio.wait_all_tasks_blocked()
        release.set()

    async with await Storage.open(storage_url) as reopened:
        again = reopened.for_plugin("attendance")
        declare(again)
        assert await count(again) == 1


async def test_cancelled_transaction_rolls_back_and_frees_the_writer_slot(storage: Storage) -> None:
    ps = storage.for_plugin("attendance")
    declare(ps)
    await ps.migrate(1)
    marks = ps.tables["marks"]
    inside = anyio.Event()

    async def stuck_write() -> None:
        async with ps.begin() as conn:
            await conn.execute(marks.insert().values(user_id=1, lesson="x"))
            inside.set()
            await anyio.sleep_forever()

    async with anyio.create_task_group() as tg:
        tg.start_soon(stuck_write)
        await inside.wait()
        tg.cancel_scope.cancel()

    with anyio.fail_after(10):  # a leaked lock or transaction would block here
        await ps.execute(marks.insert().values(user_id=2, lesson="y"))
    rows = await ps.fetch_all(select(marks.c.user_id))
    assert [row.user_id for row in rows] == [2]
