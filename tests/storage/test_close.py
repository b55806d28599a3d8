"""Closing a storage while a statement is cut by cancellation leaves nothing running.

A task cancelled in the middle of a statement (a flow cut at the end of a
stop's grace) makes SQLAlchemy terminate its connection in a task of its
own. With aiosqlite, that task used to wait forever for a worker thread that
had already ended, and asyncio's final cancellation then waited for it: the
process hung after logging "stopped".
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import anyio
import pytest
from sqlalchemy import text

from botrt.storage import Storage

pytestmark = pytest.mark.anyio

# Long enough to be still running when the task is cancelled; interrupted at close.
SLOW = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000000) "
    "SELECT count(*) FROM c"
)


async def test_a_statement_cut_by_cancellation_leaves_no_task_after_close(tmp_path: Path) -> None:
    before = asyncio.all_tasks()
    storage = await Storage.open(f"sqlite:///{tmp_path / 'bot.db'}")

    async def query() -> None:
        async with storage.transaction(write=False) as conn:
            await conn.execute(text(SLOW))

    async with anyio.create_task_group() as tg:
        tg.start_soon(query)
        await anyio.wait_all_tasks_blocked()  # the statement runs in the worker thread
        tg.cancel_scope.cancel()
    with anyio.fail_after(30):
        await storage.close()
    await anyio.wait_all_tasks_blocked()
    assert [t for t in asyncio.all_tasks() - before if not t.done()] == []
