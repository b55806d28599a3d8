"""`Storage`: the one database of a bot runtime, its connections and its transactions."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import anyio
from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from botrt.storage._conversations import define_table
from botrt.storage._engine import WRITE_OPTION, SqliteConnections, make_engine
from botrt.storage._errors import StorageError
from botrt.storage._lease import LeaseTiming
from botrt.storage._lease import define_table as define_lease
from botrt.storage._plugin import PluginStorage
from botrt.storage._url import Target, parse


@dataclass(frozen=True, slots=True)
class CoreTables:
    """botrt's own tables: the plugins' (keyed by plugin name) and the inbox of updates.

    Attributes:
        metadata: the metadata holding the tables.
        schema: ``botrt_schema(plugin, version, updated_at)``, each plugin's schema version.
        kv: ``botrt_kv(plugin, key, value)``, the plugins' key-value pairs (JSON text).
        conversation: ``botrt_conversation(bot, peer, user_id, plugin, state, data,
            expires_at)``, the durable conversation states (``botrt.handle.Conversation``).
        inbox: ``botrt_inbox(id, bot, event_id, body, received_at, handled_at)``, the
            updates a bot accepted (times in seconds since the epoch; `handled_at` is
            NULL until handled), unique per (bot, event_id).
        cursor: ``botrt_cursor(bot, position, updated_at)``, where each bot's update
            stream resumes (the Long Poll `ts`).
        lease: ``botrt_lease(name, owner, epoch, expires_at)``, who runs which piece of
            work (`botrt.storage._lease`).
    """

    metadata: MetaData
    schema: Table
    kv: Table
    conversation: Table
    inbox: Table
    cursor: Table
    lease: Table

    @classmethod
    def define(cls) -> CoreTables:
        """Build the table definitions (no database access). Raises nothing."""
        metadata = MetaData()
        schema = Table(
            "botrt_schema",
            metadata,
            Column("plugin", String(200), primary_key=True),
            Column("version", Integer, nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
        )
        kv = Table(
            "botrt_kv",
            metadata,
            Column("plugin", String(200), nullable=False),
            Column("key", String(500), nullable=False),
            Column("value", Text, nullable=False),
            PrimaryKeyConstraint("plugin", "key"),
        )
        inbox = Table(
            "botrt_inbox",
            metadata,
            # A surrogate key: the order updates were recorded in, replayed in that order.
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("bot", String(200), nullable=False),
            Column("event_id", String(200), nullable=False),
            Column("body", Text, nullable=False),
            Column("received_at", Float, nullable=False),
            Column("handled_at", Float, nullable=True),
            UniqueConstraint("bot", "event_id", name="botrt_inbox_event"),
            Index("botrt_inbox_received", "received_at"),
        )
        cursor = Table(
            "botrt_cursor",
            metadata,
            Column("bot", String(200), primary_key=True),
            Column("position", String(200), nullable=False),
            Column("updated_at", Float, nullable=False),
        )
        return cls(
            metadata, schema, kv, define_table(metadata), inbox, cursor, define_lease(metadata)
        )


class Storage:
    """A bot runtime's database: SQLite (a file, by default beside ``bot.toml``) or PostgreSQL.

    Open it with ``await Storage.open(url)`` and close it with ``await storage.close()``
    (or ``async with await Storage.open(url) as storage:``). Plugins do not use it
    directly: each receives its own `PluginStorage` from `for_plugin`.

    Every transaction is committed before the call that made it returns, and a commit
    is durable when it returns: SQLite runs in WAL mode with ``synchronous=FULL``;
    PostgreSQL keeps its own ``synchronous_commit`` setting (on by default).

    Many coroutines may use one `Storage` at once. On SQLite, write transactions take
    turns on a lock (readers never wait for it); other processes writing the same file
    are waited for up to the busy timeout.
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
        target = parse(url, base_dir=base_dir)
        temp_dir: Path | None = None
        if target.memory:
            temp_dir = Path(tempfile.mkdtemp(prefix="botrt-memory-"))
            path = temp_dir / "memory.db"
            target = Target(target.url.set(database=str(path)), "sqlite", path)
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
        try:
            async with storage.transaction(write=True) as conn:
                await conn.run_sync(storage.core.metadata.create_all)
        except DBAPIError as exc:
            await storage._dispose()
            raise storage._unavailable(exc) from None
        except BaseException:
            await storage._dispose()
            raise
        return storage

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
            raise self._unavailable(exc) from None
        try:
            transaction = await conn.begin()
            try:
                yield conn
            except BaseException:
                # Shielded: a cancelled task must still hand back a clean connection
                # (and, on SQLite, the write lock), not one inside an open transaction.
                with anyio.CancelScope(shield=True):
                    await transaction.rollback()
                raise
            # Shielded: once the block has run, its write is committed even if the task
            # is cancelled now; a COMMIT cut in half would leave the outcome unknown.
            with anyio.CancelScope(shield=True):
                await transaction.commit()
        finally:
            with anyio.CancelScope(shield=True):
                await conn.close()

    def _unavailable(self, exc: BaseException) -> StorageError:
        original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        reason = self._target.scrub(f"{type(original).__name__}: {original}".strip())
        where = self._target.describe()
        if self._target.backend == "sqlite":
            hint = "check that the file is a SQLite database and that its folder is writable"
            return StorageError(f"cannot open {where}: {reason}; {hint}")
        hint = "check [storage] url, and that the server is running and accepts this login"
        return StorageError(f"cannot connect to {where}: {reason}; {hint}")

    async def _dispose(self) -> None:
        await self._engine.dispose()
        if self._connections is not None:
            # Connections a cancellation cut are terminated outside the pool:
            # their threads end here, not after the event loop has gone.
            await self._connections.stopped()
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
