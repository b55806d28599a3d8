"""The inbox's own SQLite connection: a whole transaction in one hop to its thread.

`_SqliteWriter` runs `_sqlite_commit` (the statements of `Inbox._commit`, in
SQLite's SQL) for the inbox of a SQLite storage (`botrt.storage._inbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio

from botrt.storage._engine import set_up_sqlite
from botrt.storage._errors import StorageError

if TYPE_CHECKING:
    from botrt.storage._inbox import Key
    from botrt.storage._storage import Storage


# The same statements as the SQLAlchemy path of `InboxWriter`, in SQLite's SQL, for
# `_sqlite_commit` (which runs on the connection's own thread). Each statement runs
# in one step whatever its number of rows: the sqlite3 module hands the GIL back
# and forth with the event loop at every step (a statement with RETURNING, or
# `executemany`, steps once per row). 200 rows of 4 parameters stay well under
# SQLite's limit of 32766 parameters per statement.
_SQLITE_ROWS = 200
_SQLITE_SEEN = "SELECT event_id FROM botrt_inbox WHERE bot = ? AND event_id IN ({keys})"
_SQLITE_INSERT = (
    "INSERT INTO botrt_inbox (bot, event_id, body, received_at) VALUES {values} "
    "ON CONFLICT (bot, event_id) DO NOTHING"
)
_SQLITE_POSITION = (
    "INSERT INTO botrt_cursor (bot, position, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (bot) DO UPDATE SET position = excluded.position, "
    "updated_at = excluded.updated_at"
)
_SQLITE_MARK = "UPDATE botrt_inbox SET handled_at = ? WHERE bot = ? AND event_id IN ({keys})"
_SQLITE_PRUNE = "DELETE FROM botrt_inbox WHERE handled_at IS NOT NULL AND received_at < ?"
# Statements differ by their number of rows: room for every size a batch takes.
_SQLITE_CACHED_STATEMENTS = 1024


def _sqlite_commit(
    db: sqlite3.Connection,
    *,
    rows: Sequence[tuple[str, str, str]],
    position: tuple[str, str] | None,
    marks: Sequence[Key],
    now: float,
    prune_before: float | None,
) -> set[Key]:
    """`InboxWriter._commit`'s statements, inside the transaction `_SqliteWriter` opened on `db`."""
    fresh: set[Key] = set()
    if rows:
        # The keys already recorded, looked up first (under the transaction's write
        # lock nothing comes in between): the insert then needs no RETURNING.
        seen = _recorded(db, _by_bot((bot, key) for bot, key, _ in rows))
        new = [row for row in rows if (row[0], row[1]) not in seen]
        for start in range(0, len(new), _SQLITE_ROWS):
            chunk = new[start : start + _SQLITE_ROWS]
            sql = _SQLITE_INSERT.format(values=", ".join(["(?, ?, ?, ?)"] * len(chunk)))
            db.execute(sql, [value for row in chunk for value in (*row, now)])
        fresh = {(bot, key) for bot, key, _ in new}
    if position is not None:
        db.execute(_SQLITE_POSITION, (*position, now))
    for bot, keys in _by_bot(marks).items():
        for start in range(0, len(keys), _SQLITE_ROWS):
            chunk = keys[start : start + _SQLITE_ROWS]
            db.execute(_SQLITE_MARK.format(keys=_marks(len(chunk))), [now, bot, *chunk])
    if prune_before is not None:
        db.execute(_SQLITE_PRUNE, (prune_before,))
    return fresh


def _recorded(db: sqlite3.Connection, keys: dict[str, list[str]]) -> set[Key]:
    # Which of `keys` (event ids by bot) the inbox holds already.
    seen: set[Key] = set()
    for bot, ids in keys.items():
        for start in range(0, len(ids), _SQLITE_ROWS):
            chunk = ids[start : start + _SQLITE_ROWS]
            sql = _SQLITE_SEEN.format(keys=_marks(len(chunk)))
            seen.update((bot, str(key)) for (key,) in db.execute(sql, [bot, *chunk]))
    return seen


def _by_bot(keys: Iterable[Key]) -> dict[str, list[str]]:
    # A statement per bot: `bot = ? AND event_id IN (...)` searches the unique index
    # (a row value `(bot, event_id) IN (VALUES ...)` scans the table instead).
    grouped: dict[str, list[str]] = {}
    for bot, key in keys:
        ids = grouped.get(bot)
        if ids is None:
            grouped[bot] = [key]
        else:
            ids.append(key)
    return grouped


def _marks(count: int) -> str:
    return ", ".join(["?"] * count)


class _SqliteWriter:
    """The inbox's own SQLite connection, on its own thread: one transaction, one hop.

    Through SQLAlchemy and aiosqlite a transaction costs a thread hop per step
    (connect, BEGIN, each statement, COMMIT, the pool's reset), several times the
    write itself; the webhook's group commit runs one per batch of requests. The
    hop is a queue to the thread and `call_soon_threadsafe` back (an executor's
    futures and their chaining cost as much again). It takes the `Storage`'s
    write lock, as every writer of that storage does.
    """

    def __init__(self, storage: Storage) -> None:
        # The storage package's own internals: its file, lock and busy timeout.
        self._storage = storage
        self._path = str(storage._target.path)
        self._busy_ms = int(storage._busy_timeout * 1000)
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None  # started with the first commit
        self._db: sqlite3.Connection | None = None  # made and used on that thread
        self._closed = False

    async def commit(self, *, shield: bool = True, **work: Any) -> set[Key]:
        """Run `_sqlite_commit(**work)` in a transaction of its own; returns the new keys.

        With `shield` (the default) a cancellation waits for the transaction's
        outcome; without, the caller is a task no cancel scope reaches.

        :raises StorageError: if the storage or this writer is closed.
        :raises sqlite3.Error: if SQLite refuses (nothing is written).
        """
        if self._closed or self._storage.closed:
            raise StorageError(f"storage {self._storage.url} is closed")
        if not shield:
            return await self._locked(work)
        # Shielded, as the storage's own commits are: once started, a transaction's
        # outcome must be known to whoever waits for it.
        with anyio.CancelScope(shield=True):
            return await self._locked(work)

    async def _locked(self, work: dict[str, Any]) -> set[Key]:
        lock = self._storage._write_lock
        if lock is None:
            return await self._hop(partial(self._run, work))
        try:
            lock.acquire_nowait()  # free (the usual case): no trip through the loop
        except anyio.WouldBlock:
            await lock.acquire()
        try:
            return await self._hop(partial(self._run, work))
        finally:
            lock.release()

    def _hop(self, job: Callable[[], Any]) -> asyncio.Future[Any]:
        # `job` on the connection's thread; its outcome in the returned future.
        loop = asyncio.get_running_loop()
        if self._thread is None:
            # The thread holds the queue, not this writer: dropped without `close`,
            # the writer is collected and its finalizer ends the thread.
            self._thread = threading.Thread(
                target=_serve, args=(self._jobs,), name="botrt-inbox", daemon=True
            )
            self._thread.start()
            weakref.finalize(self, self._jobs.put, None)
        future = loop.create_future()
        self._jobs.put((job, future, loop))
        return future

    def _run(self, work: dict[str, Any]) -> set[Key]:
        db = self._db
        if db is None:
            db = self._db = sqlite3.connect(
                self._path, check_same_thread=False, cached_statements=_SQLITE_CACHED_STATEMENTS
            )
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
        if self._thread is None:
            return

        def shut() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        with anyio.CancelScope(shield=True):
            await self._hop(shut)
        self._jobs.put(None)


_Job = tuple[Callable[[], Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop]


def _serve(jobs: queue.SimpleQueue[_Job | None]) -> None:
    # The connection's thread: runs jobs until `None`.
    while (item := jobs.get()) is not None:
        job, future, loop = item
        try:
            outcome, failed = job(), False
        except BaseException as exc:
            outcome, failed = exc, True
        del job, item  # the job holds the writer (its `_run`): not past its end
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_settle, future, outcome, failed)
        del future, outcome, loop


def _settle(future: asyncio.Future[Any], outcome: Any, failed: bool) -> None:
    # On the loop: the job's outcome to whoever awaits it (unless it gave up).
    if future.done():
        return
    if failed:
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
