"""`Storage`: the one database of a bot runtime, its connections and its transactions.

botrt's own tables are defined in `_core`; the URL, the private file behind
``:memory:`` and the "cannot connect" message in `_url`; transactions in `_transaction`.
"""

from __future__ import annotations

import shutil
from contextvars import ContextVar
from pathlib import Path
from types import TracebackType

import anyio
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from botrt.storage._core import CoreTables
from botrt.storage._engine import WRITE_OPTION, SqliteConnections, make_engine
from botrt.storage._lease import LeaseTiming
from botrt.storage._migrate import create_missing, existing_tables
from botrt.storage._plugin import PluginStorage
from botrt.storage._transaction import StorageTransactions
from botrt.storage._url import Target, in_private_file, parse, unavailable


class Storage(StorageTransactions):
    """A bot runtime's database: SQLite (a file, by default beside ``bot.toml``) or PostgreSQL.

    Open it with ``await Storage.open(url)`` and close it with ``await storage.close()``
    (or ``async with await Storage.open(url) as storage:``). Plugins do not use it
    directly: each receives its own `PluginStorage` from `for_plugin`.

    Every transaction is committed before the call that made it returns, and a commit
    is durable when it returns: SQLite runs in WAL mode with ``synchronous=FULL``;
    PostgreSQL keeps its own ``synchronous_commit`` setting (on by default).

    Many coroutines may use one `Storage` at once. On SQLite, write transactions take
    turns on a lock (readers never wait for it); other processes writing the same file
    are waited for up to the busy timeout. Transactions are `StorageTransactions`, a
    base class.
    """

    __slots__ = (
        "_busy_timeout",
        "_closed",
        "_connections",
        "_engine",
        "_in_write",
        "_plugins",
        "_target",
        "_temp_dir",
        "_write_engine",
        "_write_lock",
        "core",
        "lease_timing",
    )

    def __init__(
        self,
        target: Target,
        engine: AsyncEngine,
        *,
        temp_dir: Path | None,
        connections: SqliteConnections | None = None,
        busy_timeout: float = 30.0,
    ) -> None:
        # Use `Storage.open`, which also checks the database is reachable.
        self._target = target
        self._connections = connections
        self._busy_timeout = busy_timeout
        self._engine = engine
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})
        self._write_lock = anyio.Lock() if target.backend == "sqlite" else None
        # One variable per Storage: a task in a write transaction on another
        # database must still be able to open one on this database.
        self._in_write: ContextVar[bool] = ContextVar(f"botrt_storage_write_{id(self)}")
        self._temp_dir = temp_dir
        self._closed = False
        self._plugins: dict[str, PluginStorage] = {}
        self.core = CoreTables.define()
        # The host sets the cluster's (`LeaseTiming.for_failover`) when it opens the storage.
        self.lease_timing = LeaseTiming()

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        base_dir: Path | None = None,
        connect_timeout: float = 10.0,
        busy_timeout: float = 30.0,
    ) -> Storage:
        """Connect to the database at `url` and create botrt's own tables if missing.

        `url` is ``sqlite:///relative.db`` (relative to `base_dir`, else the working
        directory), ``sqlite:////absolute/path.db``, ``sqlite:///:memory:``, or
        ``postgresql://user:password@host:port/database``; ``+aiosqlite`` and
        ``+asyncpg`` may be spelled out. ``:memory:`` is kept in a private temporary
        file that `close` deletes, so that it behaves like a file database (several
        connections, WAL) rather than one shared connection.

        :raises StorageError: if the URL is invalid or names an unsupported backend, the
            SQLite file cannot be opened or created, or the PostgreSQL server cannot be
            reached or refuses the login within `connect_timeout` seconds. The message
            names the file or host, port, database and user, never the password.
        """
        target, temp_dir = in_private_file(parse(url, base_dir=base_dir))
        connections = SqliteConnections() if target.backend == "sqlite" else None
        engine = make_engine(
            target,
            connect_timeout=connect_timeout,
            busy_timeout=busy_timeout,
            connections=connections,
        )
        storage = cls(
            target,
            engine,
            temp_dir=temp_dir,
            connections=connections,
            busy_timeout=busy_timeout,
        )
        await storage._create_core_tables()
        return storage

    async def _create_core_tables(self) -> None:
        # The first connection too: a database that cannot be reached is reported here.
        try:
            async with self.transaction(write=True) as conn:
                metadata = self.core.metadata
                existing = await conn.run_sync(existing_tables, metadata)
                await conn.run_sync(create_missing, metadata, existing)
        except DBAPIError as exc:
            await self._dispose()
            raise unavailable(self._target, exc) from None
        except BaseException:
            await self._dispose()
            raise

    @property
    def url(self) -> str:
        """The database URL with the password masked (for logs). Raises nothing."""
        return self._target.safe()

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``. Raises nothing."""
        return self._target.backend

    @property
    def closed(self) -> bool:
        """Whether `close` was called. Raises nothing."""
        return self._closed

    @property
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy engine, for what this interface does not cover.

        Transactions opened on it bypass the SQLite write lock; prefer `transaction`.
        Raises nothing.
        """
        return self._engine

    def for_plugin(self, name: str) -> PluginStorage:
        """The `PluginStorage` of the plugin `name`: what that plugin receives by injection.

        The first call makes it; later calls return the same handle (a dict lookup, cheap
        enough per event), so tables declared in ``on_load`` are in its `tables` for
        every node of the plugin. A reloaded plugin declares its tables again, which
        replaces the earlier declarations.

        :raises StorageError: if `name` cannot prefix table names (it must start with a
            letter and hold only letters, digits and single ``_`` or ``-`` between them).
        """
        try:
            return self._plugins[name]
        except (KeyError, TypeError):
            pass
        handle = PluginStorage(self, name)
        self._plugins[name] = handle
        return handle

    def forget_plugin(self, name: str) -> None:
        """Drop the handle of plugin `name` and its table declarations; its data stays.

        For a host unloading a plugin, so that the next load starts from what its new
        code declares (a table it no longer declares is then not re-created).
        Raises nothing.
        """
        if self._plugins.pop(name, None) is not None:
            # Compiled statements hold their tables: without this, every reload would
            # leave its version's tables (and their metadata) in the engine's cache.
            # The other plugins' statements are compiled again once, on first use.
            self._engine.sync_engine.clear_compiled_cache()

    async def schema_changed(self) -> None:
        """Tell the storage that tables were altered, so no connection keeps stale plans.

        asyncpg caches prepared statements per connection, and PostgreSQL refuses a
        cached plan whose table changed shape; recycling the pool avoids that error on
        the first query after a migration. Raises nothing.
        """
        if self._target.backend == "postgresql" and not self._closed:
            await self._engine.dispose()

    async def close(self) -> None:
        """Finish the write in progress, then close every connection; idempotent.

        New transactions are refused from the moment this is called.
        Raises nothing.
        """
        if self._closed:
            return
        self._closed = True
        if self._write_lock is not None:
            # Writers already queued were let in before `closed` was set: they commit
            # before the pool goes away, since their users may have been promised it.
            async with self._write_lock:
                pass
        await self._dispose()

    async def __aenter__(self) -> Storage:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Storage {self.url} {state}>"

    async def _dispose(self) -> None:
        await self._engine.dispose()
        if self._connections is not None:
            # Connections a cancellation cut are terminated outside the pool:
            # their threads end here, not after the event loop has gone.
            await self._connections.stopped()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
