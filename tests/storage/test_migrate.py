"""Schema versions: first creation, upgrades across restarts, and failed steps."""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Column, Integer, String, event, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from botrt.storage import MigrationError, PluginStorage, Storage

pytestmark = pytest.mark.anyio


def declare_v1(ps: PluginStorage) -> None:
    ps.table(
        "marks",
        Column("id", Integer, primary_key=True),
        Column("user_id", BigInteger, nullable=False),
    )


def declare_v2(ps: PluginStorage) -> None:
    ps.table(
        "marks",
        Column("id", Integer, primary_key=True),
        Column("user_id", BigInteger, nullable=False),
        Column("note", String(200), nullable=False, server_default=""),
    )
    ps.table("lessons", Column("name", String(100), primary_key=True))


async def columns(storage: Storage, table: str) -> list[str]:
    async with storage.transaction(write=False) as conn:
        found = await conn.run_sync(lambda sync: inspect(sync).get_columns(f"school__{table}"))
    return [column["name"] for column in found]


async def test_first_run_creates_tables_at_declared_version(storage_url: str) -> None:
    async with await Storage.open(storage_url) as storage:
        ps = storage.for_plugin("school")
        declare_v2(ps)
        ran: list[int] = []

        async def never(conn: AsyncConnection) -> None:
            ran.append(2)

        assert await ps.schema_version() is None
        assert await ps.migrate(2, {2: never}) == 0
        assert ran == []  # a fresh install gets the declared shape, no step
        assert await ps.schema_version() == 2
        assert "note" in await columns(storage, "marks")
        assert await ps.migrate(2, {2: never}) == 2


async def test_upgrade_runs_once_and_survives_restart(storage_url: str) -> None:
    async with await Storage.open(storage_url) as storage:
        ps = storage.for_plugin("school")
        declare_v1(ps)
        await ps.migrate(1)
        await ps.execute(ps.tables["marks"].insert().values(user_id=5))

    calls: list[str] = []

    async def add_note(conn: AsyncConnection) -> None:
        calls.append("note")
        await conn.execute(
            text("ALTER TABLE school__marks ADD COLUMN note VARCHAR(200) NOT NULL DEFAULT ''")
        )
        # New tables already exist when steps run, so data can move into them.
        await conn.execute(text("INSERT INTO school__lessons (name) VALUES ('math')"))

    for _restart in range(3):
        async with await Storage.open(storage_url) as storage:
            ps = storage.for_plugin("school")
            declare_v2(ps)
            await ps.migrate(2, {2: add_note})
            assert await ps.schema_version() == 2
            marks = ps.tables["marks"]
            row = await ps.fetch_one(select(marks.c.user_id, marks.c.note))
            assert row is not None
            assert (row.user_id, row.note) == (5, "")
            assert await ps.scalar(select(ps.tables["lessons"].c.name)) == "math"
    assert calls == ["note"]


async def test_sync_steps_run_in_order(storage: Storage) -> None:
    ps = storage.for_plugin("school")
    declare_v1(ps)
    await ps.migrate(1)
    order: list[int] = []

    def step(version: int) -> object:
        def run(conn: Connection) -> None:
            assert isinstance(conn, Connection)
            order.append(version)

        return run

    again = storage.for_plugin("school")
    declare_v1(again)
    assert await again.migrate(4, {4: step(4), 2: step(2), 3: step(3)}) == 1
    assert order == [2, 3, 4]
    assert await again.schema_version() == 4


async def test_failing_step_rolls_everything_back(storage_url: str) -> None:
    async with await Storage.open(storage_url) as storage:
        ps = storage.for_plugin("school")
        declare_v1(ps)
        await ps.migrate(1)

    async def half_done(conn: AsyncConnection) -> None:
        await conn.execute(text("ALTER TABLE school__marks ADD COLUMN note VARCHAR(200)"))
        raise ValueError("disk on fire")

    async with await Storage.open(storage_url) as storage:
        ps = storage.for_plugin("school")
        declare_v2(ps)
        with pytest.raises(MigrationError, match=r"version 2 failed.*disk on fire.*version 1") as e:
            await ps.migrate(2, {2: half_done})
        assert isinstance(e.value.__cause__, ValueError)
        assert await ps.schema_version() == 1
        assert "note" not in await columns(storage, "marks")
        async with storage.transaction(write=False) as conn:
            names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert "school__lessons" not in names  # create_all was rolled back too

        async def fixed(conn: AsyncConnection) -> None:
            await conn.execute(
                text("ALTER TABLE school__marks ADD COLUMN note VARCHAR(200) NOT NULL DEFAULT ''")
            )

        assert await ps.migrate(2, {2: fixed}) == 1
        assert "note" in await columns(storage, "marks")


async def test_downgrade_is_refused(storage: Storage) -> None:
    ps = storage.for_plugin("school")
    declare_v1(ps)
    await ps.migrate(3)
    with pytest.raises(MigrationError, match="version 3, newer than the 2"):
        await ps.migrate(2)
    assert await ps.schema_version() == 3


async def test_tables_without_version_count_as_version_1(storage: Storage) -> None:
    ps = storage.for_plugin("school")
    declare_v1(ps)
    await ps.create_all()
    ran: list[int] = []

    async def step2(conn: AsyncConnection) -> None:
        ran.append(2)

    assert await ps.migrate(2, {2: step2}) == 1
    assert ran == [2]


@pytest.mark.parametrize(
    ("version", "steps", "expected"),
    [
        (0, {}, "integer ≥ 1"),
        (True, {}, "integer ≥ 1"),
        (2, {1: print}, "from 2 to 2"),
        (2, {3: print}, "from 2 to 2"),
        (2, {2: "not callable"}, "not callable"),
    ],
)
async def test_bad_migration_arguments(
    storage: Storage, version: int, steps: dict[int, object], expected: str
) -> None:
    ps = storage.for_plugin("school")
    with pytest.raises(MigrationError, match=expected):
        await ps.migrate(version, steps)  # type: ignore[arg-type]
    assert await ps.schema_version() is None


async def test_versions_are_per_plugin(storage: Storage) -> None:
    one = storage.for_plugin("one")
    two = storage.for_plugin("two")
    await one.migrate(3)
    await two.migrate(1)
    assert (await one.schema_version(), await two.schema_version()) == (3, 1)


async def test_a_restart_lists_the_tables_once_instead_of_checking_each(storage_url: str) -> None:
    # Start-up migrates botrt's tables and every plugin's: one listing of the
    # database's tables per migration, not a query (two PRAGMAs on SQLite) per table.
    async with await Storage.open(storage_url) as storage:
        declare_v2(storage.for_plugin("school"))
        await storage.for_plugin("school").migrate(2)
    async with await Storage.open(storage_url) as storage:
        seen: list[str] = []
        event.listen(
            storage.engine.sync_engine,
            "before_cursor_execute",
            lambda conn, cursor, statement, *rest: seen.append(statement),
        )
        ps = storage.for_plugin("school")
        declare_v2(ps)
        ps.table("notes", Column("id", Integer, primary_key=True))  # new in this version
        await ps.migrate(2)
        assert sorted(ps.tables) == ["lessons", "marks", "notes"]
        assert await columns(storage, "notes") == ["id"]
    checks = [s for s in seen if "table_info" in s or "has_table" in s.lower()]
    assert checks == []
    assert [s for s in seen if s.lstrip().upper().startswith("CREATE")] == [
        s for s in seen if "school__notes" in s and s.lstrip().upper().startswith("CREATE")
    ]
