"""Fenced "handled" marks (docs/cluster.md): a mark made with the lease its update was
handled under is written only while that lease, its owner and epoch, still holds.

Each test runs on SQLite and on a real PostgreSQL (a cluster's engine; SQLite takes the
same rules in one write transaction).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, select

from botrt.storage import Storage
from botrt.storage._internal import Inbox, Lease, Leases
from botrt.testing import ManualClock

pytestmark = pytest.mark.anyio

START = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
PART = "route:g1:p7"


@pytest.fixture
async def inbox(storage: Storage) -> AsyncIterator[Inbox]:
    made = Inbox(storage, now=lambda: START.timestamp(), flush_delay=3600)
    try:
        yield made
    finally:
        await made.close()


async def handled(inbox: Inbox) -> dict[str, float | None]:
    t = inbox._storage.core.inbox
    async with inbox._storage.transaction(write=False) as conn:
        rows = (await conn.execute(select(t.c.event_id, t.c.handled_at))).all()
    return {str(key): at for key, at in rows}


async def taken_over(storage: Storage, clock: ManualClock) -> tuple[Lease, Lease]:
    """Worker A's lease of `PART`, then B's, taken once A's ran out (a higher epoch)."""
    leases = Leases(storage, clock)
    a = await leases.acquire(PART, owner="A", ttl=10)
    assert a is not None
    clock.advance(START + dt.timedelta(seconds=11))
    b = await leases.acquire(PART, owner="B", ttl=10)
    assert b is not None
    assert b.epoch > a.epoch
    return a, b


async def test_a_mark_is_written_only_while_its_lease_holds(
    storage: Storage, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(START)
    leases = Leases(storage, clock)
    await inbox.record("g1", [(k, "{}") for k in "abcd"], None)
    held = await leases.acquire(PART, owner="A", ttl=10)
    assert held is not None
    inbox.done("g1", "a", held)
    await inbox.flush()
    assert (await handled(inbox))["a"] == START.timestamp()  # A still holds it: written

    a, b = await taken_over(storage, clock)
    assert a == held
    caplog.set_level(logging.WARNING, logger="botrt.storage.inbox")
    inbox.done("g1", "b", a)  # A's, stale: refused
    inbox.done("g1", "c")  # no fence: as before
    inbox.done("g1", "d", b)  # B's: written
    await inbox.flush()
    assert await handled(inbox) == {
        "a": START.timestamp(),
        "b": None,
        "c": START.timestamp(),
        "d": START.timestamp(),
    }
    refused = [r.getMessage() for r in caplog.records]
    assert refused == [
        f"worker A no longer holds {PART} at epoch {a.epoch}: update b of bot g1 not marked "
        "handled, so that the worker holding it now handles it (its replies keep their "
        "random_id)"
    ]
    # Dropped, not retried: nothing waits, and the next commit writes nothing for it.
    assert inbox.pending_marks == 0
    assert await inbox.accept("g1", "e", "{}") is True
    assert (await handled(inbox))["b"] is None
    assert len(caplog.records) == 1


async def test_a_batch_of_fenced_marks_is_one_statement_on_postgresql(
    postgres_url: str,
) -> None:
    storage = await Storage.open(postgres_url)
    inbox = Inbox(storage, now=lambda: START.timestamp(), flush_delay=3600)
    try:
        a, b = await taken_over(storage, ManualClock(START))
        await inbox.record("g1", [(str(n), "{}") for n in range(6)], None)  # prunes too
        statements: list[str] = []

        def seen(*args: object) -> None:
            statements.append(str(args[2]))

        event.listen(storage.engine.sync_engine, "before_cursor_execute", seen)
        for n in range(6):
            inbox.done("g1", str(n), a if n % 2 else b)
        assert await inbox.accept("g1", "new", "{}") is True
        event.remove(storage.engine.sync_engine, "before_cursor_execute", seen)
        # The new row's insert, and every mark with its fence in one statement.
        assert len(statements) == 2, statements
        marks = await handled(inbox)
        assert [n for n in range(6) if marks[str(n)] is not None] == [0, 2, 4]
    finally:
        await inbox.close()
        await storage.close()
