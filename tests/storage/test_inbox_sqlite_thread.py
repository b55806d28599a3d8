"""The SQLite inbox's own thread: a commit's outcome, errors included, reaches its caller;
the storage's write lock is waited for; closing ends the thread."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from sqlalchemy import func, select

from botrt.storage import Storage
from botrt.storage._internal import Inbox

pytestmark = pytest.mark.anyio


def _now() -> float:
    return 1_800_000_000.0


@asynccontextmanager
async def opened(path: Path) -> AsyncIterator[tuple[Storage, Inbox]]:
    storage = await Storage.open(f"sqlite:///{path}")
    inbox = Inbox(storage, now=_now)
    try:
        yield storage, inbox
    finally:
        await inbox.close()
        await storage.close()


async def test_a_failing_commit_raises_to_every_waiter_and_the_next_one_works(
    tmp_path: Path,
) -> None:
    async with opened(tmp_path / "bot.db") as (storage, inbox):
        assert inbox._sqlite is not None
        assert await inbox.accept("g1", "e0", "{}") is True
        # Another connection holds the write lock of the file past the busy timeout.
        other = sqlite3.connect(tmp_path / "bot.db", timeout=0)
        other.execute("BEGIN IMMEDIATE")
        storage._busy_timeout = 0.0
        inbox._sqlite._busy_ms = 0
        inbox._sqlite._db.execute("PRAGMA busy_timeout = 0")  # type: ignore[union-attr]
        failures: list[BaseException] = []

        async def accept(key: str) -> None:
            try:
                await inbox.accept("g1", key, "{}")
            except sqlite3.OperationalError as exc:
                failures.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(accept, "e1")
            tg.start_soon(accept, "e2")
        assert len(failures) == 2
        other.rollback()
        other.close()
        assert await inbox.accept("g1", "e1", "{}") is True


async def test_a_commit_waits_for_the_storage_write_lock(tmp_path: Path) -> None:
    async with opened(tmp_path / "bot.db") as (storage, inbox):
        lock = storage._write_lock
        assert lock is not None
        await lock.acquire()
        done = anyio.Event()

        async def accept() -> None:
            await inbox.accept("g1", "e1", "{}")
            done.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(accept)
            for _ in range(20):  # the writer gets every chance to run, and must wait
                await anyio.lowlevel.checkpoint()
            assert not done.is_set()
            lock.release()
        assert done.is_set()


async def test_close_ends_the_thread(tmp_path: Path) -> None:
    async with opened(tmp_path / "bot.db") as (_, inbox):
        await inbox.accept("g1", "e1", "{}")
        assert inbox._sqlite is not None
        thread = inbox._sqlite._thread
        assert thread is not None
        assert thread.is_alive()
    thread.join(timeout=10)
    assert not thread.is_alive()


async def test_a_writer_dropped_without_close_ends_its_thread(tmp_path: Path) -> None:
    # An inbox its owner never closed must not leave a thread waiting forever.
    storage = await Storage.open(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        inbox = Inbox(storage, now=_now)
        await inbox.accept("g1", "e1", "{}")
        assert inbox._sqlite is not None
        thread = inbox._sqlite._thread
        assert thread is not None
        del inbox
        gc.collect()
        thread.join(timeout=10)
        assert not thread.is_alive()
    finally:
        await storage.close()


async def test_a_batch_takes_one_statement_for_its_rows_and_one_for_its_marks(
    tmp_path: Path,
) -> None:
    # The sqlite3 module hands the GIL to the event loop and back at every step of a
    # statement: a batch's rows and marks are one statement each, not one per row.
    async with opened(tmp_path / "bot.db") as (storage, inbox):
        assert inbox._sqlite is not None
        keys = [f"e{n}" for n in range(20)]
        assert await inbox.record("g1", [(k, "{}") for k in keys], None) == [True] * 20
        inbox.flush_delay = 3600.0  # the marks wait for the next write, however slow the test
        for key in keys:
            inbox.done("g1", key)
        statements: list[str] = []
        inbox._sqlite._db.set_trace_callback(statements.append)  # type: ignore[union-attr]
        # A new update, one already recorded, and another bot's with a taken id.
        fresh = await asyncio.gather(
            inbox.accept("g1", "e20", "{}"),
            inbox.accept("g1", "e3", "{}"),
            inbox.accept("g2", "e3", "{}"),
        )
        assert fresh == [True, False, True]
        kinds = [sql.split()[0] for sql in statements]
        # A look-up of the taken ids per bot, one insert, the marks (all g1's) in one.
        assert kinds == ["BEGIN", "SELECT", "SELECT", "INSERT", "UPDATE", "COMMIT"]
        t = storage.core.inbox
        async with storage.transaction(write=False) as conn:
            handled = await conn.scalar(
                select(func.count()).select_from(t).where(t.c.handled_at.is_not(None))
            )
            assert handled == 20
            assert await conn.scalar(select(func.count()).select_from(t)) == 22
