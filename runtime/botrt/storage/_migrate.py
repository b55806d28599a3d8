"""Bringing a plugin's tables to the schema version its code declares."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeAlias

from sqlalchemy import MetaData, Table, func, insert, select, update
from sqlalchemy import inspect as inspect_db
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from botrt.storage._errors import MigrationError

MigrationStep: TypeAlias = Callable[[AsyncConnection], Awaitable[Any]] | Callable[[Connection], Any]
"""One upgrade step: ``async def step(conn: AsyncConnection)``, or a plain function taking a
synchronous `Connection` (run through ``run_sync``, for APIs such as
``table.create(conn)``). It runs inside the migration's transaction and must not commit."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What `run_migration` needs to know about one plugin.

    Attributes:
        plugin: the plugin's name, as recorded in ``botrt_schema``.
        metadata: the plugin's tables, at the shape its current code declares.
        schema: the ``botrt_schema`` table.
    """

    plugin: str
    metadata: MetaData
    schema: Table


def check_steps(plugin: str, version: int, steps: Mapping[int, MigrationStep]) -> None:
    """Check that `version` and `steps` make sense before anything runs.

    :raises MigrationError: if `version` is not an integer ≥ 1, a step is keyed by
        something other than an integer from 2 to `version`, or a step is not callable.
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise MigrationError(
            f"plugin {plugin!r}: schema version must be an integer ≥ 1, not {version!r}"
        )
    for key, step in steps.items():
        if isinstance(key, bool) or not isinstance(key, int) or not 2 <= key <= version:
            raise MigrationError(
                f"plugin {plugin!r}: step {key!r} must be keyed by the version it upgrades to, "
                f"from 2 to {version} (version 1 is the first shape, made by create_all)"
            )
        if not callable(step):
            raise MigrationError(f"plugin {plugin!r}: step {key} is not callable: {step!r}")


async def run_migration(
    conn: AsyncConnection, plan: Plan, version: int, steps: Mapping[int, MigrationStep]
) -> int:
    """Create missing tables, run the steps above the recorded version, record `version`.

    `version` and `steps` are those `check_steps` accepted. Runs inside the caller's
    write transaction, so any failure leaves nothing changed. Returns the version found
    before (0 when the plugin had no tables yet).

    :raises MigrationError: if the recorded version is newer than `version`, or a
        step raises (chained as the cause).
    """
    if conn.dialect.name == "postgresql":
        # Two bot processes starting together must not both upgrade the same plugin.
        await conn.execute(select(func.pg_advisory_xact_lock(_lock_key(plan.plugin))))
    recorded = await recorded_version(conn, plan.schema, plan.plugin)
    existing = await conn.run_sync(existing_tables, plan.metadata)
    # Tables without a recorded version predate versioning (or a bare
    # create_all): they are taken to be at version 1, the first shape.
    found = (1 if existing else 0) if recorded is None else recorded
    if found > version:
        raise MigrationError(
            f"plugin {plan.plugin!r}: its tables are at schema version {found}, newer than "
            f"the {version} this code declares; downgrades are not supported: load the newer "
            "plugin again, or restore a backup made before the upgrade"
        )
    await conn.run_sync(create_missing, plan.metadata, existing)
    if found:
        await _run_steps(conn, plan, steps, found, guessed=recorded is None)
    await _record_version(conn, plan, version, recorded)
    return found


async def _run_steps(
    conn: AsyncConnection,
    plan: Plan,
    steps: Mapping[int, MigrationStep],
    found: int,
    *,
    guessed: bool,
) -> None:
    """Run the steps above version `found` in order (`guessed`: no version was recorded).

    :raises MigrationError: if a step raises (chained as the cause).
    """
    for step_version in sorted(steps):
        if step_version <= found:
            continue
        step = steps[step_version]
        try:
            if inspect.iscoroutinefunction(step):
                await step(conn)
            else:
                await conn.run_sync(step)
        except Exception as exc:
            hint = ""
            if guessed:
                hint = (
                    " (its tables existed with no recorded version and were taken to be "
                    "at version 1; if create_all() made them just now, call migrate() "
                    "alone: it creates missing tables itself)"
                )
            raise MigrationError(
                f"plugin {plan.plugin!r}: the step to schema version {step_version} failed "
                f"({type(exc).__name__}: {exc}); nothing was changed, the schema stays at "
                f"version {found}{hint}"
            ) from exc


async def _record_version(
    conn: AsyncConnection, plan: Plan, version: int, recorded: int | None
) -> None:
    """Record `version` in ``botrt_schema``, where `recorded` was found before."""
    now = datetime.now(UTC)
    if recorded is None:
        await conn.execute(
            insert(plan.schema).values(plugin=plan.plugin, version=version, updated_at=now)
        )
    elif recorded != version:
        await conn.execute(
            update(plan.schema)
            .where(plan.schema.c.plugin == plan.plugin)
            .values(version=version, updated_at=now)
        )


async def recorded_version(conn: AsyncConnection, schema: Table, plugin: str) -> int | None:
    """The schema version recorded for `plugin`, or None. Raises nothing of its own."""
    value = await conn.scalar(select(schema.c.version).where(schema.c.plugin == plugin))
    return None if value is None else int(value)


def existing_tables(conn: Connection, metadata: MetaData) -> list[str]:
    """The tables of `metadata` the database has, found with one query. Raises what it raises."""
    # One listing instead of a `has_table` per table (two PRAGMAs each on SQLite,
    # a query each on PostgreSQL): start-up checks every table of every plugin.
    inspector = inspect_db(conn)
    present = set(inspector.get_table_names())
    return [
        key
        for key, table in metadata.tables.items()
        if (
            table.name in present
            if table.schema is None
            else inspector.has_table(table.name, schema=table.schema)
        )
    ]


def create_missing(conn: Connection, metadata: MetaData, existing: list[str]) -> None:
    """Create the tables of `metadata` not in `existing` (from `existing_tables`), with indexes.

    Runs in the caller's transaction, which must keep `existing` true (a write
    transaction on SQLite; the migration's advisory lock on PostgreSQL).
    """
    missing = [table for name, table in metadata.tables.items() if name not in existing]
    if missing:
        metadata.create_all(conn, tables=missing, checkfirst=False)


def _lock_key(plugin: str) -> int:
    digest = hashlib.blake2b(f"botrt_schema:{plugin}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
