"""Making the SQLAlchemy engine for a storage target, with SQLite set up for durability."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from botrt.storage._url import Target

WRITE_OPTION = "botrt_write"
"""Execution option marking a connection whose transactions will write."""


def make_engine(target: Target, *, connect_timeout: float, busy_timeout: float) -> AsyncEngine:
    """The async engine for `target`: aiosqlite with durable pragmas, or asyncpg.

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
    engine = create_async_engine(target.url)
    busy_ms = int(busy_timeout * 1000)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
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

    def on_begin(connection: Connection) -> None:
        # IMMEDIATE takes the write lock up front, so the busy timeout applies; a
        # DEFERRED transaction that read first and then writes fails at once with
        # SQLITE_BUSY when another writer committed in between.
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")

    event.listen(engine.sync_engine, "connect", on_connect)
    event.listen(engine.sync_engine, "begin", on_begin)
    return engine
