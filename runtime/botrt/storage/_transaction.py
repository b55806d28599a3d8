"""A storage's transactions: one connection each, committed or rolled back as a whole.

`StorageTransactions` is mixed into `Storage` (`botrt.storage._storage`):
`transaction` opens a read or write transaction (on SQLite, writers take turns
on a lock); `_transaction_on` is the connection, begin, commit or rollback and
close under it, each shielded from cancellation where an outcome must be known.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

import anyio
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from botrt.storage._errors import StorageError
from botrt.storage._url import Target, unavailable


class StorageTransactions:
    """The transactions of `Storage` (see the module)."""

    __slots__ = ()

    # Set by `Storage.__init__`.
    _target: Target
    _closed: bool
    _engine: AsyncEngine
    _write_engine: AsyncEngine
    _write_lock: anyio.Lock | None
    _in_write: ContextVar[bool]
    url: str

    @asynccontextmanager
    async def transaction(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        """A transaction on its own connection, committed when the block exits normally.

        With `write` True, it is a write transaction: on SQLite it waits for the write
        lock and starts with ``BEGIN IMMEDIATE``. Read transactions never wait for writers.
        An exception in the block rolls everything back and propagates.

        :raises StorageError: if the storage is closed, the database cannot be reached, or
            (with `write`) this task is already inside a write transaction of this storage,
            which on SQLite would wait for itself forever.
        """
        if self._closed:
            raise StorageError(f"storage {self.url} is closed")
        if not write:
            async with self._transaction_on(self._engine) as conn:
                yield conn
            return
        if self._in_write.get(False):
            raise StorageError(
                "a write transaction is already open in this task: run the statement on "
                "the connection of the enclosing `async with ps.begin() as conn` block "
                "(conveniences such as execute, upsert and kv_set open their own transaction)"
            )
        token = self._in_write.set(True)
        try:
            if self._write_lock is None:
                async with self._transaction_on(self._write_engine) as conn:
                    yield conn
            else:
                async with self._write_lock, self._transaction_on(self._write_engine) as conn:
                    yield conn
        finally:
            self._in_write.reset(token)

    @asynccontextmanager
    async def _transaction_on(self, engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
        conn = engine.connect()
        try:
            # Shielded: a connect cut by cancellation leaves a half-open connection
            # (on SQLite, a worker thread) that nothing closes and that keeps the
            # process from exiting. Connecting is bounded by the connect timeout.
            with anyio.CancelScope(shield=True):
                await conn.start()
        except (DBAPIError, OSError, TimeoutError) as exc:
            raise unavailable(self._target, exc) from None
        try:
            transaction = await conn.begin()
            try:
                yield conn
            except BaseException as exc:
                # Shielded: a cancelled task must still hand back a clean connection
                # (and, on SQLite, the write lock), not one inside an open transaction.
                with anyio.CancelScope(shield=True):
                    await transaction.rollback()
                if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                    # The database went away mid-statement (a restart): the StorageError
                    # callers retry on, not a driver error that ends their task.
                    raise unavailable(self._target, exc) from exc
                raise
            # Shielded: once the block has run, its write is committed even if the task
            # is cancelled now; a COMMIT cut in half would leave the outcome unknown.
            try:
                with anyio.CancelScope(shield=True):
                    await transaction.commit()
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    raise unavailable(self._target, exc) from exc
                raise
        finally:
            with anyio.CancelScope(shield=True):
                await conn.close()
