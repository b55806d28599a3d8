"""One plugin's statements and transactions on the storage: `PluginStatements`.

Mixed into `PluginStorage`: `begin` opens a write transaction; `execute`,
`fetch_all`, `fetch_one`, `scalar` and `upsert` each run in their own,
committed before they return.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, Table
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from botrt.storage._errors import StorageError
from botrt.storage._upsert import build_upsert

if TYPE_CHECKING:
    from botrt.storage._storage import Storage


class PluginStatements:
    """The statements of `PluginStorage` (see the module)."""

    __slots__ = ()

    # Set by `PluginStorage.__init__`.
    _storage: Storage
    _name: str
    _prefix: str

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: ``async with ps.begin() as conn: await conn.execute(...)``.

        It is committed, and durable, when the block exits normally; an exception rolls
        it back and propagates. Run every statement of the block on `conn`.

        :raises StorageError: if the storage is closed or unreachable, or this task is
            already inside a write transaction (which on SQLite would wait for itself).
        """
        async with self._storage.transaction(write=True) as conn:
            yield conn

    async def execute(
        self,
        statement: Executable,
        params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    ) -> int:
        """Run `statement` (with `params`, or each of a list of them), commit, return the rowcount.

        The rowcount is -1 where the driver does not report one.

        :raises StorageError: if the storage is closed or unreachable, or this task is
            already inside a write transaction.
        :raises sqlalchemy.exc.DBAPIError: if the database rejects the statement.
        """
        async with self._storage.transaction(write=True) as conn:
            result = await conn.execute(statement, params)
            return int(result.rowcount)

    async def fetch_all(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> list[Row[Any]]:
        """The rows `statement` returns. A statement that is not a SELECT runs as a write.

        :raises StorageError: if the storage is closed or unreachable (or, for a write,
            this task is already inside a write transaction).
        :raises sqlalchemy.exc.DBAPIError: if the database rejects the statement.
        """
        async with self._storage.transaction(write=_writes(statement)) as conn:
            result = await conn.execute(statement, params)
            return list(result.all())

    async def fetch_one(
        self, statement: Executable, params: Mapping[str, Any] | None = None
    ) -> Row[Any] | None:
        """The first row `statement` returns, or None. A non-SELECT runs as a write.

        :raises StorageError: if the storage is closed or unreachable (or, for a write,
            this task is already inside a write transaction).
        :raises sqlalchemy.exc.DBAPIError: if the database rejects the statement.
        """
        async with self._storage.transaction(write=_writes(statement)) as conn:
            result = await conn.execute(statement, params)
            return result.first()

    async def scalar(self, statement: Executable, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row `statement` returns, or None. A non-SELECT writes.

        :raises StorageError: if the storage is closed or unreachable (or, for a write,
            this task is already inside a write transaction).
        :raises sqlalchemy.exc.DBAPIError: if the database rejects the statement.
        """
        async with self._storage.transaction(write=_writes(statement)) as conn:
            return await conn.scalar(statement, params)

    async def upsert(
        self,
        table: Table,
        values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        key: str | Sequence[str],
        update: Sequence[str] | None = None,
        conn: AsyncConnection | None = None,
    ) -> None:
        """Insert `values` (one row or a list), or update the rows whose `key` already exists.

        `update` names the columns to overwrite on a conflict: by default every column
        in `values` but the key; ``update=()`` keeps existing rows as they are (insert
        or do nothing). Works the same on SQLite and PostgreSQL. Commits before
        returning, unless `conn` (from `begin`) is given: then it is part of that
        transaction.

        :raises StorageError: if `table` is not this plugin's, `key` is not its primary
            key or a unique constraint, a column is unknown, the rows name different
            columns, the storage is closed or unreachable, or (without `conn`) this task
            is already inside a write transaction.
        :raises sqlalchemy.exc.DBAPIError: if the database rejects the rows.
        """
        if not table.name.startswith(f"{self._prefix}__"):
            raise StorageError(
                f"plugin {self._name!r} can only upsert into its own tables, not {table.name!r}"
            )
        rows = [values] if isinstance(values, Mapping) else list(values)
        if not rows:
            return
        keys = [key] if isinstance(key, str) else list(key)
        dialect = self._storage.backend
        statement = build_upsert(dialect, table, rows, keys, update)
        if conn is not None:
            await conn.execute(statement, rows)
            return
        async with self._storage.transaction(write=True) as own:
            await own.execute(statement, rows)


def _writes(statement: Executable) -> bool:
    # Anything but a plain SELECT may write (INSERT … RETURNING, text(), DDL), so it
    # takes the write path: on SQLite it then queues instead of failing with "locked".
    return not getattr(statement, "is_select", False)
