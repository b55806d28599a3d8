"""The inbox's fence (issue 17 item 3): a polled batch and its position are written only if
the fence, run inside the same transaction, lets them; a fence that refuses leaves nothing.

On SQLite and on a real PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from botrt.storage import Storage
from botrt.storage._internal import Inbox

pytestmark = pytest.mark.anyio


class Deposed(Exception):
    pass


async def kv_rows(storage: Storage) -> int:
    async with storage.transaction(write=False) as conn:
        return int(await conn.scalar(select(func.count()).select_from(storage.core.kv)) or 0)


async def test_a_passing_fence_shares_the_batch_transaction(storage: Storage) -> None:
    inbox = Inbox(storage, now=lambda: 1_800_000_000.0)
    seen: list[AsyncConnection] = []

    async def fence(conn: AsyncConnection) -> None:
        seen.append(conn)
        # Written on the fence's connection: it commits with the batch.
        await conn.execute(insert(storage.core.kv).values(plugin="t", key="k", value="1"))

    try:
        assert await inbox.record("g", [("e1", "{}"), ("e2", "{}")], "12", fence=fence) == [
            True,
            True,
        ]
        assert len(seen) == 1
        assert await inbox.position("g") == ("12", 1_800_000_000.0)
        assert await kv_rows(storage) == 1
    finally:
        await inbox.close()


async def test_a_refusing_fence_leaves_neither_updates_nor_position(storage: Storage) -> None:
    inbox = Inbox(storage, now=lambda: 1_800_000_000.0)
    await inbox.record("g", [("e1", "{}")], "10")

    async def fence(conn: AsyncConnection) -> None:
        await conn.execute(insert(storage.core.kv).values(plugin="t", key="k", value="1"))
        raise Deposed("another worker leads g now")

    try:
        with pytest.raises(Deposed):
            await inbox.record("g", [("e2", "{}")], "11", fence=fence)
        assert await inbox.position("g") == ("10", 1_800_000_000.0)
        assert await kv_rows(storage) == 0  # the fence's own write was rolled back too
        # e2 was never recorded: a later writer records it as new.
        assert await inbox.record("g", [("e2", "{}")], "11") == [True]
        assert [key for key, _ in await Inbox(storage, now=lambda: 0.0).unhandled("g")] == [
            "e1",
            "e2",
        ]
    finally:
        await inbox.close()


async def test_marks_survive_a_refused_batch(storage: Storage) -> None:
    inbox = Inbox(storage, now=lambda: 1_800_000_000.0, flush_delay=60)
    await inbox.record("g", [("e1", "{}")], "10")
    inbox.done("g", "e1")

    async def fence(conn: AsyncConnection) -> None:
        raise Deposed("lost")

    try:
        with pytest.raises(Deposed):
            await inbox.record("g", [("e2", "{}")], "11", fence=fence)
        assert inbox.pending_marks == 1  # not lost with the batch: written with the next
        await inbox.flush()
        assert await Inbox(storage, now=lambda: 0.0).unhandled("g") == []
    finally:
        await inbox.close()
