"""The inbox (issue 16): updates recorded before they are handed on, recognised across
restarts, marked handled in batches, replayed after a crash, pruned after the retry window.

Each test runs on SQLite and on a real PostgreSQL; a "restart" is a second `Storage`
and `Inbox` on the same database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import pytest
from sqlalchemy import event, func, select

from botrt.storage import Storage
from botrt.storage._inbox_writer import GATHER_TURNS
from botrt.storage._internal import Inbox

pytestmark = pytest.mark.anyio


class Now:
    """The host's clock as the inbox sees it, moved by hand."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


@asynccontextmanager
async def opened(url: str, now: Now, **options: float) -> AsyncIterator[Inbox]:
    storage = await Storage.open(url)
    inbox = Inbox(storage, now=now, **options)
    try:
        yield inbox
    finally:
        await inbox.close()
        await storage.close()


async def count(inbox: Inbox, *, handled: bool | None = None) -> int:
    t = inbox._storage.core.inbox
    query = select(func.count()).select_from(t)
    if handled is not None:
        query = query.where(t.c.handled_at.is_not(None) if handled else t.c.handled_at.is_(None))
    async with inbox._storage.transaction(write=False) as conn:
        return int(await conn.scalar(query) or 0)


async def test_accept_tells_new_from_seen_across_a_restart(storage_url: str) -> None:
    now = Now()
    async with opened(storage_url, now) as inbox:
        assert await inbox.accept("g1", "e1", '{"n": 1}') is True
        assert await inbox.accept("g1", "e1", '{"n": 1}') is False
        assert await inbox.accept("g2", "e1", '{"n": 1}') is True  # another bot's id
    async with opened(storage_url, now) as inbox:
        assert await inbox.accept("g1", "e1", '{"n": 1}') is False
        assert await inbox.accept("g1", "e2", '{"n": 2}') is True


def commits_of(inbox: Inbox) -> Callable[[], int]:
    """How many transactions the inbox's writes have committed since this call.

    Counted where they happen: on SQLite the inbox writer's own connection (it bypasses
    the engine; `accept` must have opened it), elsewhere the storage's engine.
    """
    commits = 0

    def counted(*_: object) -> None:
        nonlocal commits
        commits += 1

    writer = inbox._sqlite
    if writer is None:
        event.listen(inbox._storage.engine.sync_engine, "commit", counted)
    else:
        assert writer._db is not None, "no write yet: the writer's connection is not open"
        writer._db.set_trace_callback(lambda sql: counted() if sql == "COMMIT" else None)
    return lambda: commits


async def test_requests_arriving_together_share_one_commit(storage_url: str) -> None:
    now = Now()
    async with opened(storage_url, now) as inbox:
        assert await inbox.accept("g1", "before", "{}") is True  # opens the connection
        commits = commits_of(inbox)
        keys = [f"e{n}" for n in range(50)] + ["e7"]  # and a retry racing its first try
        results = await asyncio.gather(*(inbox.accept("g1", k, "{}") for k in keys))
        assert results == [True] * 50 + [False]
        assert 1 <= commits() <= 2  # the first request's commit, then everyone who came meanwhile
        assert await count(inbox) == 51


async def test_requests_reaching_accept_over_a_few_loop_turns_share_one_commit(
    storage_url: str,
) -> None:
    # A burst's requests reach `accept` over a few turns of the event loop (read,
    # parsed, checked): the writer takes its batch once a turn brings nobody new.
    now = Now()
    async with opened(storage_url, now) as inbox:
        assert await inbox.accept("g1", "before", "{}") is True  # opens the connection
        commits = commits_of(inbox)

        async def after(turns: int, key: str) -> bool:
            for _ in range(turns):
                await asyncio.sleep(0)
            return await inbox.accept("g1", key, "{}")

        results = await asyncio.gather(*(after(n, f"e{n}") for n in range(GATHER_TURNS)))
        assert results == [True] * GATHER_TURNS
        assert commits() == 1


async def test_a_lone_request_is_committed_after_one_turn_of_the_loop(storage_url: str) -> None:
    # Gathering waits for no timer: a request alone is taken for its commit at the
    # writer's first turn of the loop, microseconds later (a timer would not have fired).
    now = Now()
    async with opened(storage_url, now) as inbox:
        assert await inbox.accept("g1", "before", "{}") is True
        accepted = inbox.accept("g1", "e1", "{}")
        await asyncio.sleep(0)  # the writer starts
        await asyncio.sleep(0)  # a turn: nobody new, the batch is taken
        assert not inbox._waiting
        assert await accepted is True


async def test_unhandled_updates_are_replayed_after_a_crash_in_order(storage_url: str) -> None:
    now = Now()
    async with opened(storage_url, now) as inbox:
        assert await inbox.record("g1", [("a", "1"), ("b", "2"), ("c", "3")], "40") == [True] * 3
        assert await inbox.unhandled("g1") == []  # this process is handling them
        inbox.done("g1", "b")
        await inbox.flush()
        # The "crash": a and c were never marked.
    async with opened(storage_url, now) as inbox:
        assert await inbox.position("g1") == ("40", now.t)
        assert await inbox.unhandled("g1") == [("a", "1"), ("c", "3")]
        assert await inbox.unhandled("g1") == []  # handed out once per process
        assert await inbox.record("g1", [("c", "3"), ("d", "4")], "41") == [False, True]
        for key in "acd":
            inbox.done("g1", key)
        await inbox.flush()
    async with opened(storage_url, now) as inbox:
        assert await inbox.unhandled("g1") == []
        assert await inbox.position("g1") == ("41", now.t)


async def test_marks_are_batched_and_ride_along_with_the_next_write(storage_url: str) -> None:
    now = Now()
    async with opened(storage_url, now, flush_delay=3600) as inbox:
        await inbox.record("g1", [("a", "{}"), ("b", "{}")], None)
        inbox.done("g1", "a")
        inbox.done("g1", "b")
        assert inbox.pending_marks == 2
        assert await count(inbox, handled=True) == 0  # not a write per update
        assert await inbox.accept("g1", "c", "{}") is True
        assert inbox.pending_marks == 0
        assert await count(inbox, handled=True) == 2


async def test_marks_made_during_a_commit_wait_for_the_next_write(storage_url: str) -> None:
    # Under load, handlings end while every batch commits: a commit of those marks
    # alone after each batch would double the commits. They ride with the next one.
    now = Now()
    async with opened(storage_url, now, flush_delay=3600) as inbox:
        await inbox.record("g1", [("a", "{}")], None)
        first = inbox.accept("g1", "b", "{}")
        while not inbox._waiting:  # noqa: ASYNC110 (a step of the loop, no timing)
            await asyncio.sleep(0)
        while inbox._waiting:  # noqa: ASYNC110 (the writer took it: its commit is under way)
            await asyncio.sleep(0)
        inbox.done("g1", "a")
        assert await first is True
        assert inbox.pending_marks == 1
        assert await count(inbox, handled=True) == 0
        assert await inbox.accept("g1", "c", "{}") is True
        assert inbox.pending_marks == 0
        assert await count(inbox, handled=True) == 1


@pytest.mark.parametrize("delay", [0.0, 0.01], ids=["at-once", "after-a-delay"])
async def test_marks_alone_are_written_without_another_write(
    storage_url: str, delay: float
) -> None:
    now = Now()
    async with opened(storage_url, now, flush_delay=delay) as inbox:
        await inbox.record("g1", [("a", "{}")], None)
        inbox.done("g1", "a")
        with anyio.fail_after(10):  # nothing else writes: only the inbox's own writer can
            while await count(inbox, handled=True) == 0:  # noqa: ASYNC110 (the timer is internal)
                await asyncio.sleep(0.01)


async def test_handled_rows_are_pruned_after_the_retry_window(storage_url: str) -> None:
    now = Now()
    async with opened(storage_url, now, keep=3 * 3600, prune_every=600) as inbox:
        await inbox.record("g1", [("old", "{}"), ("stuck", "{}")], None)
        inbox.done("g1", "old")
        await inbox.flush()
        now.t += 3 * 3600 - 1
        await inbox.accept("g1", "young", "{}")
        assert await count(inbox) == 3  # within the window: a retry is still recognised
        assert await inbox.accept("g1", "old", "{}") is False
        now.t += 601
        inbox.done("g1", "young")
        await inbox.flush()
        # "old" is gone; "stuck" was never handled and stays for the next start;
        # "young" is handled but inside the window.
        async with inbox._storage.transaction(write=False) as conn:
            t = inbox._storage.core.inbox
            left = set((await conn.execute(select(t.c.event_id))).scalars())
        assert left == {"stuck", "young"}
