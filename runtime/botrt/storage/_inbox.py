"""The inbox: updates a bot accepted, kept until handled, so a crash loses none and a retry
or a replay is recognised across restarts.

One `Inbox` per host serves every bot. What it promises:

- `accept` (a webhook's update) and `record` (a polled batch and the position after
  it) return only once their rows are committed: an update is durable before anyone
  is told it was taken, and a polled batch and its position are one transaction, so
  the stored position never runs ahead of what is recorded.
- A (bot, event id) already in the inbox is reported as seen and not handed on again.
- `done` marks an update handled. Marks are written with the next write, or on
  their own `flush_delay` seconds later if none comes. A crash between the end of
  a handling and its mark's commit leaves it unmarked, and it is handled again at
  the next start: at least once, never lost.
- `unhandled` lists what a previous process recorded and never handled, in the
  order it was recorded, skipping what this process is handling itself.
- Handled rows are deleted once older than `keep` (the window the platform retries
  in), checked at most every `prune_every` seconds by the host's clock.

Concurrent `accept` calls share one transaction (group commit): while one batch
commits, the next gathers, so a burst of webhook requests costs one durable write
per batch rather than one per request.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy import and_, bindparam, delete, select, update

from botrt.storage._engine import set_up_sqlite
from botrt.storage._errors import StorageError
from botrt.storage._upsert import build_upsert

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from botrt.storage._storage import Storage

log = logging.getLogger("botrt.storage.inbox")

# VK re-sends an unanswered Callback update after 10 s, 3, 10 and 30 min and 1 h:
# the last retry comes about 1 h 43 min after the first try, "or later" by VK's own
# words. Three hours covers that with room; a row costs a few hundred bytes.
DEFAULT_KEEP = 3 * 3600.0
# Marks alone wait this long for a write to ride with: under load they always find
# one (a mark-only commit would cost as much as a batch of updates); idle, 50 ms.
DEFAULT_FLUSH_DELAY = 0.05
DEFAULT_PRUNE_EVERY = 600.0

Key = tuple[str, str]
"""(bot, event id)."""

Fence = Callable[["AsyncConnection"], Awaitable[None]]
"""Run first in a batch's transaction: raises (rolling the batch back) if its writer may no
longer write, e.g. a cluster's leader whose lease another worker has taken since."""


class Inbox:
    """The durable inbox of every bot of one host, on the host's `Storage`.

    Attributes:
        now: gives the host's time in seconds since the epoch (the host's clock,
            which tests move by hand).
        keep, flush_delay, prune_every: as the module docstring says.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        now: Callable[[], float],
        keep: float = DEFAULT_KEEP,
        flush_delay: float = DEFAULT_FLUSH_DELAY,
        prune_every: float = DEFAULT_PRUNE_EVERY,
    ) -> None:
        """Use `storage`'s ``botrt_inbox`` and ``botrt_cursor`` tables. Raises nothing."""
        self._storage = storage
        self._inbox = storage.core.inbox
        self._cursor = storage.core.cursor
        self.now = now
        self.keep = keep
        self.flush_delay = flush_delay
        self.prune_every = prune_every
        self._next_prune: float | None = None
        # Recorded or replayed by this process and not yet marked in the database:
        # `unhandled` must not hand them out a second time.
        self._inflight: set[Key] = set()
        self._waiting: list[tuple[str, str, str, asyncio.Future[bool]]] = []
        self._marks: list[Key] = []
        self._writer: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()
        self._sqlite = _SqliteWriter(storage) if storage.backend == "sqlite" else None

    # -- recording -------------------------------------------------------------

    async def accept(self, bot: str, event_id: str, body: str) -> bool:
        """Record one update; True if it is new, False if (bot, event_id) was there.

        Returns once the row is committed, sharing the transaction with the other
        calls waiting at that moment.

        :raises StorageError: if the database cannot be reached (nothing recorded).
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((bot, event_id, body, future))
        self._wake_writer()
        return await future

    async def record(
        self,
        bot: str,
        updates: Sequence[tuple[str, str]],
        position: str | None,
        *,
        fence: Fence | None = None,
    ) -> list[bool]:
        """Record a batch of (event id, body) and `bot`'s new `position`, in one transaction.

        Returns, per update, whether it is new. `position` None leaves the stored
        one as it is. A `fence` runs first inside that transaction (a cluster's
        leader proving it still leads); whatever it raises rolls everything back
        and propagates.

        :raises StorageError: if the database cannot be reached (nothing recorded).
        """
        rows = [(bot, key, body) for key, body in updates]
        fresh = await self._commit(rows, None if position is None else (bot, position), fence)
        return [(bot, key) in fresh for key, _ in updates]

    async def position(self, bot: str) -> tuple[str, float] | None:
        """`bot`'s stored position and when it was stored (epoch seconds), or None.

        :raises StorageError: if the database cannot be reached.
        """
        async with self._storage.transaction(write=False) as conn:
            row = (
                await conn.execute(
                    select(self._cursor.c.position, self._cursor.c.updated_at).where(
                        self._cursor.c.bot == bot
                    )
                )
            ).first()
        return None if row is None else (str(row[0]), float(row[1]))

    async def save_position(self, bot: str, position: str) -> None:
        """Store `bot`'s position alone (nothing new came with it).

        :raises StorageError: if the database cannot be reached.
        """
        await self.record(bot, (), position)

    async def unhandled(self, bot: str) -> list[tuple[str, str]]:
        """What was recorded for `bot` and never handled: (event id, body), oldest first.

        Leaves out what this process recorded or replayed and has not yet marked,
        and counts what it returns as replayed.

        :raises StorageError: if the database cannot be reached.
        """
        t = self._inbox
        async with self._lock, self._storage.transaction(write=False) as conn:
            rows = (
                await conn.execute(
                    select(t.c.event_id, t.c.body)
                    .where(t.c.bot == bot, t.c.handled_at.is_(None))
                    .order_by(t.c.id)
                )
            ).all()
            found = [(str(k), str(body)) for k, body in rows if (bot, k) not in self._inflight]
            self._inflight.update((bot, key) for key, _ in found)
        return found

    def forget(self, bot: str, event_id: str) -> None:
        """Stop counting (bot, event_id) as this process's own: another process handles it
        (a cluster worker that only recorded it). Raises nothing."""
        self._inflight.discard((bot, event_id))

    # -- marking ---------------------------------------------------------------

    def done(self, bot: str, event_id: str) -> None:
        """Mark (bot, event_id) handled: written with the next commit. Raises nothing."""
        self._marks.append((bot, event_id))
        if self._writer is not None or self._timer is not None:
            return  # the writer at work takes it next, or the timer is set
        if self.flush_delay <= 0:
            self._wake_writer()
        else:
            self._timer = asyncio.get_running_loop().call_later(self.flush_delay, self._wake_writer)

    async def flush(self) -> None:
        """Write every mark made so far, and wait for the commits in progress.

        For a stop: a mark not written is an update handled again at the next start.

        :raises StorageError: if the database cannot be reached.
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._writer is not None:
            await asyncio.shield(self._writer)
        if self._marks:
            await self._commit([], None)

    @property
    def pending_marks(self) -> int:
        """Marks not yet written. Raises nothing."""
        return len(self._marks)

    # -- the writer --------------------------------------------------------------

    def _wake_writer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_all())

    async def _write_all(self) -> None:
        failed = False
        # Woken, the writer writes what there is; after a commit, marks made meanwhile
        # are written alone only if they may not wait: else they ride with the next
        # batch, or the timer wakes the writer for them.
        alone = True
        try:
            while self._waiting or (self._marks and alone):
                alone = self.flush_delay <= 0
                # One turn of the loop before taking the batch: requests already
                # read but not yet parsed join it, instead of waiting a whole commit.
                await asyncio.sleep(0)
                batch, self._waiting = self._waiting, []
                try:
                    fresh = await self._commit(
                        [(bot, key, body) for bot, key, body, _ in batch], None
                    )
                except Exception as exc:
                    failed = True
                    if not batch:
                        log.warning("inbox: handled marks not written, retried later: %s", exc)
                        return
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                seen: set[Key] = set()
                for bot, key, _, future in batch:
                    # The same update twice in one batch (a retry racing its first
                    # try): the first request takes it, the second is a duplicate.
                    new = (bot, key) in fresh and (bot, key) not in seen
                    seen.add((bot, key))
                    if not future.done():
                        future.set_result(new)
        finally:
            self._writer = None
            if self._marks and self._timer is None:
                # Marks made during the last commit, or not written by a failed one:
                # they wait for the next write, or `flush_delay` (a second after a failure).
                delay = max(self.flush_delay, 1.0) if failed else self.flush_delay
                self._timer = asyncio.get_running_loop().call_later(delay, self._wake_writer)

    async def _commit(
        self,
        rows: Sequence[tuple[str, str, str]],
        position: tuple[str, str] | None,
        fence: Fence | None = None,
    ) -> set[Key]:
        # One write transaction: the new rows, a position, and every mark made so far
        # (they ride along for free), pruning when it is time. Returns the new keys.
        async with self._lock:  # `unhandled` sees the rows and `_inflight` agree
            marks, self._marks = self._marks, []
            now = self.now()
            prune = self._next_prune is None or now >= self._next_prune
            try:
                if self._sqlite is not None and fence is None:
                    fresh = await self._sqlite.commit(
                        rows=rows,
                        position=position,
                        marks=marks,
                        now=now,
                        prune_before=now - self.keep if prune else None,
                    )
                else:
                    # A fence needs SQLAlchemy's connection (a cluster is PostgreSQL's;
                    # SQLite takes this path only in tests).
                    async with self._storage.transaction(write=True) as conn:
                        if fence is not None:
                            await fence(conn)
                        fresh = await self._insert(conn, rows, now)
                        if position is not None:
                            await self._store_position(conn, *position, now)
                        if marks:
                            await self._mark(conn, marks, now)
                        if prune:
                            await self._prune(conn, now)
            except BaseException:
                self._marks[:0] = marks  # not written: the next transaction tries again
                raise
            if prune:
                self._next_prune = now + self.prune_every
            self._inflight.update(fresh)
            # Out of flight only once committed: until then `unhandled` must skip them.
            self._inflight.difference_update(marks)
            return fresh

    async def close(self) -> None:
        """Write the marks made so far, then release the SQLite writer's connection.

        Idempotent; the inbox must not be used afterwards.

        :raises StorageError: if the marks cannot be written (the connection is
            released anyway).
        """
        try:
            await self.flush()
        finally:
            if self._sqlite is not None:
                await self._sqlite.close()

    async def _insert(
        self, conn: AsyncConnection, rows: Sequence[tuple[str, str, str]], now: float
    ) -> set[Key]:
        if not rows:
            return set()
        t = self._inbox
        params = [
            {"bot": bot, "event_id": key, "body": body, "received_at": now}
            for bot, key, body in rows
        ]
        statement = build_upsert(conn.dialect.name, t, params, ["bot", "event_id"], ())
        result = await conn.execute(statement.returning(t.c.bot, t.c.event_id), params)
        return {(str(bot), str(key)) for bot, key in result.all()}

    async def _store_position(
        self, conn: AsyncConnection, bot: str, position: str, now: float
    ) -> None:
        row = {"bot": bot, "position": position, "updated_at": now}
        statement = build_upsert(conn.dialect.name, self._cursor, [row], ["bot"], None)
        await conn.execute(statement, [row])

    async def _mark(self, conn: AsyncConnection, marks: list[Key], now: float) -> None:
        t = self._inbox
        statement = (
            update(t)
            .where(and_(t.c.bot == bindparam("b_bot"), t.c.event_id == bindparam("b_id")))
            .values(handled_at=now)
        )
        await conn.execute(statement, [{"b_bot": b, "b_id": k} for b, k in marks])

    async def _prune(self, conn: AsyncConnection, now: float) -> None:
        t = self._inbox
        result = await conn.execute(
            delete(t).where(t.c.handled_at.is_not(None), t.c.received_at < now - self.keep)
        )
        if result.rowcount:
            log.debug("inbox: pruned %d handled updates", result.rowcount)


# The same statements as the SQLAlchemy path above, in SQLite's SQL, for
# `_sqlite_commit` (which runs on the connection's own thread). 200 rows of 4
# parameters stay well under SQLite's limit of 32766 parameters per statement.
_SQLITE_ROWS = 200
_SQLITE_INSERT = (
    "INSERT INTO botrt_inbox (bot, event_id, body, received_at) VALUES {values} "
    "ON CONFLICT (bot, event_id) DO NOTHING RETURNING bot, event_id"
)
_SQLITE_POSITION = (
    "INSERT INTO botrt_cursor (bot, position, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (bot) DO UPDATE SET position = excluded.position, "
    "updated_at = excluded.updated_at"
)
_SQLITE_MARK = "UPDATE botrt_inbox SET handled_at = ? WHERE bot = ? AND event_id = ?"
_SQLITE_PRUNE = "DELETE FROM botrt_inbox WHERE handled_at IS NOT NULL AND received_at < ?"


def _sqlite_commit(
    db: sqlite3.Connection,
    *,
    rows: Sequence[tuple[str, str, str]],
    position: tuple[str, str] | None,
    marks: Sequence[Key],
    now: float,
    prune_before: float | None,
) -> set[Key]:
    """`Inbox._commit`'s statements, inside the transaction `_SqliteWriter` opened on `db`."""
    fresh: set[Key] = set()
    for start in range(0, len(rows), _SQLITE_ROWS):
        chunk = rows[start : start + _SQLITE_ROWS]
        sql = _SQLITE_INSERT.format(values=", ".join(["(?, ?, ?, ?)"] * len(chunk)))
        params = [value for bot, key, body in chunk for value in (bot, key, body, now)]
        fresh.update((str(bot), str(key)) for bot, key in db.execute(sql, params).fetchall())
    if position is not None:
        db.execute(_SQLITE_POSITION, (*position, now))
    if marks:
        db.executemany(_SQLITE_MARK, [(now, bot, key) for bot, key in marks])
    if prune_before is not None:
        db.execute(_SQLITE_PRUNE, (prune_before,))
    return fresh


class _SqliteWriter:
    """The inbox's own SQLite connection, on its own thread: one transaction, one hop.

    Through SQLAlchemy and aiosqlite a transaction costs a thread hop per step
    (connect, BEGIN, each statement, COMMIT, the pool's reset), several times the
    write itself; the webhook's group commit runs one per batch of requests. It
    takes the `Storage`'s write lock, as every writer of that storage does.
    """

    def __init__(self, storage: Storage) -> None:
        # The storage package's own internals: its file, lock and busy timeout.
        self._storage = storage
        self._path = str(storage._target.path)
        self._busy_ms = int(storage._busy_timeout * 1000)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="botrt-inbox")
        self._db: sqlite3.Connection | None = None  # made and used on the executor's thread
        self._closed = False

    async def commit(self, **work: Any) -> set[Key]:
        """Run `_sqlite_commit(**work)` in a transaction of its own; returns the new keys.

        :raises StorageError: if the storage or this writer is closed.
        :raises sqlite3.Error: if SQLite refuses (nothing is written).
        """
        if self._closed or self._storage.closed:
            raise StorageError(f"storage {self._storage.url} is closed")
        loop = asyncio.get_running_loop()
        lock = self._storage._write_lock
        # Shielded, as the storage's own commits are: once started, a transaction's
        # outcome must be known to whoever waits for it.
        with anyio.CancelScope(shield=True):
            if lock is None:
                return await loop.run_in_executor(self._executor, partial(self._run, work))
            async with lock:
                return await loop.run_in_executor(self._executor, partial(self._run, work))

    def _run(self, work: dict[str, Any]) -> set[Key]:
        db = self._db
        if db is None:
            db = self._db = sqlite3.connect(self._path, check_same_thread=False)
            set_up_sqlite(db, self._busy_ms)
        db.execute("BEGIN IMMEDIATE")
        try:
            fresh = _sqlite_commit(db, **work)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return fresh

    async def close(self) -> None:
        """Close the connection and end the thread; idempotent. Raises nothing."""
        if self._closed:
            return
        self._closed = True

        def shut() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        with anyio.CancelScope(shield=True):
            await asyncio.get_running_loop().run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=False)
