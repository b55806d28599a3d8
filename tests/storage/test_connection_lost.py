"""A PostgreSQL connection that dies inside a transaction (a server restart, an
administrator's `pg_terminate_backend`) reaches callers as the `StorageError` they
retry on, not as a driver error that ends the task holding it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from botrt.storage import Storage, StorageError

pytestmark = pytest.mark.anyio


async def killed_midway(storage: Storage, *, write: bool) -> None:
    async with storage.transaction(write=write) as conn:
        pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with storage.transaction(write=False) as other:
            await other.execute(text(f"SELECT pg_terminate_backend({int(pid)})"))
        await conn.execute(text("SELECT 1"))


async def duplicate_key(storage: Storage) -> None:
    async with storage.transaction(write=True) as conn:
        await conn.execute(text("CREATE TEMP TABLE t (k int PRIMARY KEY)"))
        await conn.execute(text("INSERT INTO t VALUES (1)"))
        await conn.execute(text("INSERT INTO t VALUES (1)"))


@pytest.mark.parametrize("write", [False, True])
async def test_a_connection_killed_mid_transaction_is_a_storage_error(
    postgres_url: str, write: bool
) -> None:
    storage = await Storage.open(postgres_url)
    try:
        with pytest.raises(StorageError, match="cannot connect"):
            await killed_midway(storage, write=write)
        # The storage goes on: the next transaction gets a new connection.
        async with storage.transaction(write=False) as conn:
            assert (await conn.execute(text("SELECT 41 + 1"))).scalar_one() == 42
    finally:
        await storage.close()


async def test_a_constraint_violation_is_still_the_drivers_error(postgres_url: str) -> None:
    # Only a lost connection becomes a StorageError: a plugin catching IntegrityError
    # (a duplicate key) still gets it.
    from sqlalchemy.exc import IntegrityError

    storage = await Storage.open(postgres_url)
    try:
        with pytest.raises(IntegrityError):
            await duplicate_key(storage)
    finally:
        await storage.close()
