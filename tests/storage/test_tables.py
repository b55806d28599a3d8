"""A plugin's tables: prefixed names, creation, transactions and the conveniences."""

from __future__ import annotations

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
    inspect,
    select,
    text,
)

from botrt.storage import PluginStorage, Storage, StorageError

pytestmark = pytest.mark.anyio


def marks_table(ps: PluginStorage) -> Table:
    return ps.table(
        "marks",
        Column("id", Integer, primary_key=True),
        Column("user_id", BigInteger, nullable=False),
        Column("lesson", String(100), nullable=False),
        Index("by_user", "user_id"),
    )


async def table_names(storage: Storage) -> set[str]:
    async with storage.transaction(write=False) as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_tables_are_prefixed_and_isolated(storage: Storage) -> None:
    attendance = storage.for_plugin("attendance")
    broadcast = storage.for_plugin("broad-cast")
    a_marks = marks_table(attendance)
    b_marks = marks_table(broadcast)
    assert a_marks.name == "attendance__marks"
    assert b_marks.name == "broad_cast__marks"
    assert attendance.tables["marks"] is a_marks
    await attendance.create_all()
    await broadcast.create_all()  # same index name "by_user": prefixed, so no clash

    await attendance.execute(a_marks.insert().values(user_id=1, lesson="math"))
    await broadcast.execute(b_marks.insert(), [{"user_id": 2, "lesson": "x"}] * 3)

    assert await attendance.scalar(select(func.count()).select_from(a_marks)) == 1
    assert await broadcast.scalar(select(func.count()).select_from(b_marks)) == 3
    assert {"attendance__marks", "broad_cast__marks"} <= await table_names(storage)


async def test_create_all_is_idempotent(storage: Storage) -> None:
    ps = storage.for_plugin("attendance")
    marks = marks_table(ps)
    await ps.create_all()
    await ps.execute(marks.insert().values(user_id=1, lesson="math"))
    await ps.create_all()
    # A restarted or reloaded plugin declares the same table again.
    storage.forget_plugin("attendance")
    again = storage.for_plugin("attendance")
    assert again is not ps
    marks_again = marks_table(again)
    await again.create_all()
    assert await again.scalar(select(func.count()).select_from(marks_again)) == 1


async def test_foreign_keys_are_enforced(storage: Storage) -> None:
    ps = storage.for_plugin("school")
    groups = ps.table("groups", Column("id", Integer, primary_key=True))
    students = ps.table(
        "students",
        Column("id", Integer, primary_key=True),
        Column("group_id", Integer, ForeignKey(groups.c.id), nullable=False),
    )
    await ps.create_all()
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await ps.execute(students.insert().values(id=1, group_id=42))


async def test_bad_plugin_names_are_refused(storage: Storage) -> None:
    for bad in ("", "9lives", "a__b", "a-_b", "has space", "_hidden", "trailing_", "ü"):
        with pytest.raises(StorageError, match="cannot prefix table names"):
            storage.for_plugin(bad)
    long_name = storage.for_plugin("x" * 60)
    with pytest.raises(StorageError, match="longer than 63"):
        long_name.table("marks", Column("id", Integer, primary_key=True))


async def test_table_name_rules(storage: Storage) -> None:
    ps = storage.for_plugin("attendance")
    with pytest.raises(StorageError, match="lowercase identifier"):
        ps.table("Marks", Column("id", Integer, primary_key=True))
    with pytest.raises(StorageError, match="longer than 63"):
        ps.table("m" * 60, Column("id", Integer, primary_key=True))


async def test_declaring_again_replaces(storage: Storage) -> None:
    ps = storage.for_plugin("attendance")
    first = marks_table(ps)
    # What a reload does: the new code declares its tables again, maybe changed.
    second = ps.table("marks", Column("id", Integer, primary_key=True), Column("extra", String(5)))
    assert second is not first
    assert ps.tables == {"marks": second}
    assert "extra" in ps.tables["marks"].c


async def test_table_added_without_prefix_is_refused(storage: Storage) -> None:
    ps = storage.for_plugin("attendance")
    Table("sneaky", ps.metadata, Column("id", Integer, primary_key=True))
    with pytest.raises(StorageError, match=r"without ps\.table"):
        await ps.create_all()


async def test_explicit_constraint_names_are_prefixed(storage: Storage) -> None:
    one = storage.for_plugin("one")
    two = storage.for_plugin("two")
    for ps in (one, two):
        ps.table(
            "t",
            Column("id", Integer, primary_key=True),
            Column("code", String(10)),
            UniqueConstraint("code", name="uq_code"),
        )
        await ps.create_all()
    assert {c.name for c in one.tables["t"].constraints} >= {"one__uq_code"}


async def test_begin_commits_on_exit_and_rolls_back_on_error(storage: Storage) -> None:
    ps = storage.for_plugin("attendance")
    marks = marks_table(ps)
    await ps.create_all()
    async with ps.begin() as conn:
        await conn.execute(marks.insert().values(user_id=1, lesson="math"))
        await conn.execute(marks.insert().values(user_id=2, lesson="math"))

    async def fail_midway() -> None:
        async with ps.begin() as conn:
            await conn.execute(marks.insert().values(user_id=3, lesson="math"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_midway()
    rows = await ps.fetch_all(select(marks.c.user_id).order_by(marks.c.user_id))
    assert [row.user_id for row in rows] == [1, 2]


async def test_fetch_one_and_scalar(storage: Storage) -> None:
    ps = storage.for_plugin("attendance")
    marks = marks_table(ps)
    await ps.create_all()
    assert await ps.fetch_one(select(marks)) is None
    assert await ps.scalar(select(marks.c.id)) is None
    new_id = await ps.scalar(marks.insert().values(user_id=7, lesson="x").returning(marks.c.id))
    row = await ps.fetch_one(select(marks).where(marks.c.id == new_id))
    assert row is not None
    assert (row.user_id, row.lesson) == (7, "x")
    updated = await ps.execute(marks.update().values(lesson="y"))
    assert updated == 1
    assert await ps.scalar(text("SELECT 40 + 2")) == 42


async def test_nested_write_transaction_is_refused(storage: Storage) -> None:
    ps = storage.for_plugin("attendance")
    marks = marks_table(ps)
    await ps.create_all()
    async with ps.begin() as conn:
        with pytest.raises(StorageError, match="already open in this task"):
            await ps.kv_set("k", 1)
        # Reads are fine inside a write transaction; the row just is not visible yet.
        await conn.execute(marks.insert().values(user_id=1, lesson="x"))
        assert await ps.fetch_all(select(marks)) == []
    assert len(await ps.fetch_all(select(marks))) == 1


async def test_one_handle_per_plugin(storage: Storage) -> None:
    ps = storage.for_plugin("attendance")
    marks = marks_table(ps)
    # The host asks for the handle on every event: the tables declared at load are there.
    assert storage.for_plugin("attendance") is ps
    assert storage.for_plugin("attendance").tables["marks"] is marks
    assert isinstance(ps.metadata, MetaData)
    assert ps.metadata is not storage.for_plugin("other").metadata
    assert ps.plugin == "attendance"
    storage.forget_plugin("attendance")
    storage.forget_plugin("never-loaded")
    assert storage.for_plugin("attendance").tables == {}
