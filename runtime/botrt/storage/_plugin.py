"""`PluginStorage`: one plugin's view of the storage, with its own tables and key-value pairs.

Its tables, migrations and key-value pairs are here; its statements and
transactions in `_statements.PluginStatements`, its base.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Constraint, Index, MetaData, Table
from sqlalchemy.schema import SchemaItem

from botrt.storage import _kv as kv
from botrt.storage._errors import StorageError
from botrt.storage._lease import Leases
from botrt.storage._migrate import MigrationStep, Plan, check_steps, recorded_version, run_migration
from botrt.storage._statements import PluginStatements

if TYPE_CHECKING:
    from botrt.plugin import Clock
    from botrt.storage._storage import Storage

_PREFIX = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*\Z")
_TABLE = re.compile(r"[a-z][a-z0-9_]*\Z")
_MAX_IDENTIFIER = 63
"""PostgreSQL silently truncates longer names, which would make two tables one."""


class PluginStorage(PluginStatements):
    """What a plugin receives by injection: its own tables and key-value pairs.

    Tables are defined with SQLAlchemy Core through `table`, which prefixes their names
    with the plugin's name (``attendance`` + ``marks`` → ``attendance__marks``), so
    plugins never collide::

        marks = ps.table("marks", Column("user_id", BigInteger, nullable=False), ...)
        await ps.migrate(1)                  # creates the tables, records version 1
        async with ps.begin() as conn:       # committed (durably) when the block exits
            await conn.execute(marks.insert().values(user_id=1))
        rows = await ps.fetch_all(select(marks).where(marks.c.user_id == 1))

    `execute`, `fetch_one`, `fetch_all`, `scalar`, `upsert` and the ``kv_*`` calls each
    run in their own transaction, committed before they return. Get one from
    `Storage.for_plugin`.
    """

    __slots__ = ("_metadata", "_name", "_prefix", "_storage")

    def __init__(self, storage: Storage, name: str) -> None:
        prefix = name.lower().replace("-", "_") if isinstance(name, str) else ""
        if not _PREFIX.fullmatch(prefix):
            raise StorageError(
                f"plugin name {name!r} cannot prefix table names: it must start with a letter "
                "and hold only letters, digits and single '_' or '-' between them"
            )
        self._storage = storage
        self._name = name
        self._prefix = prefix
        self._metadata = MetaData()

    @property
    def plugin(self) -> str:
        """The plugin's name. Raises nothing."""
        return self._name

    @property
    def metadata(self) -> MetaData:
        """The metadata holding this plugin's tables; define them with `table`, not on it.

        Raises nothing.
        """
        return self._metadata

    @property
    def tables(self) -> Mapping[str, Table]:
        """This plugin's tables by their short name (``"marks"``). Raises nothing."""
        start = len(self._prefix) + 2
        return {name[start:]: table for name, table in self._metadata.tables.items()}

    def leases(self, clock: Clock) -> Leases:
        """Leases on the host's storage, timed by `clock` (the host's: `BotInfo` is one).

        For background work that one process at a time may do, such as a job the
        plugin resumes at every start (see `botrt.storage._lease`). Lease names are
        shared by every plugin: start them with the plugin's name. Raises nothing.
        """
        return Leases(self._storage, clock)

    def table(self, name: str, *items: SchemaItem, **options: Any) -> Table:
        """Define this plugin's table `name` (stored as ``<plugin>__<name>``) and return it.

        `items` and `options` are those of `sqlalchemy.Table` (columns, constraints,
        indexes). Declaring `name` again replaces the earlier declaration, as a reloaded
        plugin does. Explicit index and constraint names get the same prefix, since
        databases keep them in one namespace. Refer to another of the plugin's tables by
        column object (``ForeignKey(marks.c.id)``), not by name. For an auto-increment id
        use `Integer` (SQLite only auto-increments an ``INTEGER PRIMARY KEY``).

        :raises StorageError: if `name` is not a lowercase identifier, or the prefixed
            name is longer than 63 characters.
        """
        if not isinstance(name, str) or not _TABLE.fullmatch(name):
            raise StorageError(
                f"table name {name!r} of plugin {self._name!r} must be a lowercase identifier "
                "(a letter, then letters, digits or '_')"
            )
        full = self._qualify(name)
        earlier = self._metadata.tables.get(full)
        if earlier is not None:
            self._metadata.remove(earlier)
        table = Table(full, self._metadata, *items, **options)
        named: list[Index | Constraint] = [*table.indexes, *table.constraints]
        for item in named:
            if isinstance(item.name, str) and not item.name.startswith(f"{self._prefix}__"):
                item.name = self._qualify(item.name)
        return table

    async def create_all(self) -> None:
        """Create this plugin's tables that do not exist yet (existing ones are left as they are).

        For plugins that do not version their schema; `migrate` creates the tables too.

        :raises StorageError: if the storage is closed or unreachable, a table was added
            to `metadata` without `table` (so without the prefix), or this task is already
            in a write transaction.
        """
        self._check_metadata()
        async with self._storage.transaction(write=True) as conn:
            await conn.run_sync(self._metadata.create_all)

    async def migrate(self, version: int, steps: Mapping[int, MigrationStep] | None = None) -> int:
        """Bring this plugin's tables to schema `version`, in one transaction; returns the old one.

        On a first run, creates the tables as declared and records `version` (no step
        runs). Afterwards, creates the tables that are new, then runs the steps keyed
        above the recorded version, in order: ``steps[n]`` turns version n-1 into n, e.g.
        ``{2: add_note_column}``. Versions need a step only if they change existing
        tables. Calling it again at the same version does nothing but create missing
        tables, so it is safe on every start. The return value is the version found
        (0 on a first run).

        :raises MigrationError: if `version` or a step key is invalid, the recorded
            version is newer than `version`, or a step fails; nothing was changed.
        :raises StorageError: if the storage is closed or unreachable, a table lacks the
            prefix, or this task is already in a write transaction.
        """
        steps = dict(steps or {})
        check_steps(self._name, version, steps)
        self._check_metadata()
        plan = Plan(self._name, self._metadata, self._storage.core.schema)
        async with self._storage.transaction(write=True) as conn:
            found = await run_migration(conn, plan, version, steps)
        if 0 < found < version:
            await self._storage.schema_changed()
        return found

    async def schema_version(self) -> int | None:
        """The schema version recorded for this plugin, or None if it never migrated.

        :raises StorageError: if the storage is closed or unreachable.
        """
        async with self._storage.transaction(write=False) as conn:
            return await recorded_version(conn, self._storage.core.schema, self._name)

    async def kv_get(self, key: str, default: Any = None) -> Any:
        """The value stored under `key` for this plugin, or `default`.

        :raises StorageError: if `key` is not a non-empty string of at most 500
            characters, or the storage is closed or unreachable.
        """
        kv.check_key(key)
        async with self._storage.transaction(write=False) as conn:
            return await kv.get(conn, self._storage.core.kv, self._name, key, default)

    async def kv_set(self, key: str, value: Any) -> None:
        """Store `value` (anything `json.dumps` takes) under `key`, replacing what was there.

        :raises StorageError: if `key` is invalid, `value` is not JSON-serialisable, the
            storage is closed or unreachable, or this task is already in a write transaction.
        """
        text = kv.encode(self._name, key, value)
        async with self._storage.transaction(write=True) as conn:
            await kv.put(conn, self._storage.core.kv, self._name, key, text)

    async def kv_delete(self, key: str) -> bool:
        """Forget `key`; returns whether it was there.

        :raises StorageError: if `key` is invalid, the storage is closed or unreachable,
            or this task is already in a write transaction.
        """
        kv.check_key(key)
        async with self._storage.transaction(write=True) as conn:
            return await kv.remove(conn, self._storage.core.kv, self._name, key)

    def __repr__(self) -> str:
        return f"<PluginStorage {self._name!r} on {self._storage.url}>"

    def _qualify(self, name: str) -> str:
        full = f"{self._prefix}__{name}"
        if len(full.encode()) > _MAX_IDENTIFIER:
            raise StorageError(
                f"name {full!r} of plugin {self._name!r} is longer than {_MAX_IDENTIFIER} "
                "bytes, which PostgreSQL would truncate; choose a shorter name"
            )
        return full

    def _check_metadata(self) -> None:
        for name in self._metadata.tables:
            if not name.startswith(f"{self._prefix}__"):
                raise StorageError(
                    f"table {name!r} was added to the metadata of plugin {self._name!r} "
                    f"without ps.table(), so it lacks the {self._prefix!r} prefix that keeps "
                    "plugins apart; define it with ps.table()"
                )
