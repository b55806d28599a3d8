"""Making the SQLAlchemy engine for a storage target, with SQLite set up for durability."""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from contextlib import suppress
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from botrt.storage._url import Target

WRITE_OPTION = "botrt_write"
"""Execution option marking a connection whose transactions will write."""


class _Connection(aiosqlite.Connection):
    """aiosqlite's connection, whose `stop` may be called more than once.

    A statement cut by cancellation makes SQLAlchemy terminate the connection:
    it force-stops the worker thread and, in a task of its own, closes the
    connection too. aiosqlite's `close` then asks the ended thread to stop
    once more and waits for an answer that never comes, and asyncio's final
    cancellation waits for that task: the process hangs on exit. Here every
    `stop` after the first returns the first one's future, which the thread
    does answer.
    """

    _stop_asked = False
    _stopping: asyncio.Future[Any] | None = None
    sqlite: sqlite3.Connection | None = None
    """The connection the worker thread uses, once made (kept to interrupt it)."""

    def stop(self) -> asyncio.Future[Any] | None:
        """Ask the worker thread to close the connection and end; once."""
        if not self._stop_asked:
            self._stop_asked = True
            self._stopping = super().stop()
        return self._stopping


class SqliteConnections:
    """The aiosqlite connections an engine made, so that closing waits for their threads."""

    def __init__(self) -> None:
        self._open: weakref.WeakSet[_Connection] = weakref.WeakSet()

    def connect(self, database: str, *, iter_chunk_size: int = 64, **kwargs: Any) -> _Connection:
        """What `aiosqlite.connect` does, with `_Connection` (SQLAlchemy calls it)."""

        def connector() -> sqlite3.Connection:
            connection.sqlite = sqlite3.connect(database, **kwargs)
            return connection.sqlite

        connection = _Connection(connector, iter_chunk_size)
        # As SQLAlchemy does for aiosqlite: a connection nobody closed must not
        # keep the process from exiting.
        connection._thread.daemon = True
        self._open.add(connection)
        return connection

    async def stopped(self) -> None:
        """Stop every connection still open and wait for its worker thread to answer.

        Runs after the pool is disposed: what is left was cut by a cancellation
        and is being terminated. A statement still running is interrupted.
        """
        for connection in list(self._open):
            if connection.sqlite is not None:
                with suppress(sqlite3.ProgrammingError):  # already closed
                    connection.sqlite.interrupt()  # may be called from any thread
            future = connection.stop()
            if future is not None:
                with suppress(Exception):
                    await future


def set_up_sqlite(dbapi_connection: Any, busy_ms: int) -> None:
    """Give a new SQLite connection botrt's settings (WAL, FULL sync, busy timeout).

    Raises what sqlite3 raises for a file that is not a database.
    """
    # Take BEGIN away from the sqlite3 module, which skips it before DDL and
    # SELECT: migrations must be transactional, and writers must say IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power
        # loss, and a confirmed attendance mark or broadcast step must survive it.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # For other processes on the same file; inside one Storage writers queue
        # on a lock instead of polling.
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    finally:
        cursor.close()


def make_engine(
    target: Target,
    *,
    connect_timeout: float,
    busy_timeout: float,
    connections: SqliteConnections | None = None,
) -> AsyncEngine:
    """The async engine for `target`: aiosqlite with durable pragmas, or asyncpg.

    On SQLite, the connections are made through `connections`, if given.
    Raises nothing: no connection is made until the engine is first used.
    """
    if target.backend == "postgresql":
        return create_async_engine(
            target.url,
            connect_args={"timeout": connect_timeout},
            # A bot runs for weeks; a server restart must not leave dead connections
            # in the pool to fail the next user's command.
            pool_pre_ping=True,
        )
    connect_args = {"async_creator_fn": connections.connect} if connections is not None else {}
    engine = create_async_engine(target.url, connect_args=connect_args)
    busy_ms = int(busy_timeout * 1000)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        set_up_sqlite(dbapi_connection, busy_ms)

    def on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so the busy timeout applies; a
        # DEFERRED transaction that read first and then writes fails at once with
        # SQLITE_BUSY when another writer committed in between.
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "begin", on_begin)
    return engine
