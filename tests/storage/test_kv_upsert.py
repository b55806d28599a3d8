"""The per-plugin key-value store and the portable upsert."""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Column, Integer, String, Table, UniqueConstraint, select

from botrt.storage import PluginStorage, Storage, StorageError

pytestmark = pytest.mark.anyio


async def test_kv_round_trip(storage: Storage) -> None:
    ps = storage.for_plugin("broadcast")
    assert await ps.kv_get("missing") is None
    assert await ps.kv_get("missing", {"d": 1}) == {"d": 1}
    value = {"job": 7, "done": [1, 2, 3], "name": "привет", "ok": True, "none": None}
    await ps.kv_set("state", value)
    assert await ps.kv_get("state") == value
    await ps.kv_set("state", 3)
    assert await ps.kv_get("state") == 3
    assert await ps.kv_delete("state") is True
    assert await ps.kv_delete("state") is False
    assert await ps.kv_get("state", "gone") == "gone"


async def test_kv_is_per_plugin(storage: Storage) -> None:
    one = storage.for_plugin("one")
    two = storage.for_plugin("two")
    await one.kv_set("k", "one's")
    await two.kv_set("k", "two's")
    assert (await one.kv_get("k"), await two.kv_get("k")) == ("one's", "two's")
    await one.kv_delete("k")
    assert await two.kv_get("k") == "two's"


async def test_kv_refuses_what_it_cannot_store(storage: Storage) -> None:
    ps = storage.for_plugin("broadcast")
    with pytest.raises(StorageError, match="JSON"):
        await ps.kv_set("k", object())
    with pytest.raises(StorageError, match="JSON"):
        await ps.kv_set("k", float("nan"))
    for bad in ("", "k" * 501, 5):
        with pytest.raises(StorageError, match="key must be"):
            await ps.kv_set(bad, 1)  # type: ignore[arg-type]


def progress_table(ps: PluginStorage) -> Table:
    return ps.table(
        "progress",
        Column("job_id", Integer, primary_key=True),
        Column("peer_id", BigInteger, primary_key=True),
        Column("status", String(20), nullable=False),
        Column("error", String(200)),
    )


async def rows(ps: PluginStorage, table: Table) -> list[tuple[object, ...]]:
    found = await ps.fetch_all(select(table).order_by(*table.primary_key.columns))
    return [tuple(row) for row in found]


async def test_upsert_inserts_then_updates(storage: Storage) -> None:
    ps = storage.for_plugin("broadcast")
    progress = progress_table(ps)
    await ps.create_all()
    key = ["job_id", "peer_id"]
    await ps.upsert(
        progress,
        [{"job_id": 1, "peer_id": p, "status": "planned", "error": None} for p in (10, 11, 12)],
        key=key,
    )
    await ps.upsert(
        progress, {"job_id": 1, "peer_id": 11, "status": "failed", "error": "901"}, key=key
    )
    await ps.upsert(
        progress,
        [
            {"job_id": 1, "peer_id": 12, "status": "sent", "error": "ignored"},
            {"job_id": 1, "peer_id": 13, "status": "sent", "error": None},
        ],
        key=key,
        update=["status"],
    )
    assert await rows(ps, progress) == [
        (1, 10, "planned", None),
        (1, 11, "failed", "901"),
        (1, 12, "sent", None),
        (1, 13, "sent", None),
    ]


async def test_upsert_do_nothing(storage: Storage) -> None:
    ps = storage.for_plugin("members")
    members = ps.table(
        "members",
        Column("id", Integer, primary_key=True),
        Column("user_id", BigInteger, nullable=False),
        Column("name", String(50)),
        UniqueConstraint("user_id"),
    )
    await ps.create_all()
    await ps.upsert(members, {"user_id": 1, "name": "first"}, key="user_id", update=())
    await ps.upsert(
        members,
        [{"user_id": 1, "name": "second"}, {"user_id": 2, "name": "other"}],
        key="user_id",
        update=(),
    )
    found = await ps.fetch_all(select(members.c.user_id, members.c.name).order_by("user_id"))
    assert [tuple(row) for row in found] == [(1, "first"), (2, "other")]


async def test_upsert_inside_a_transaction(storage: Storage) -> None:
    ps = storage.for_plugin("broadcast")
    progress = progress_table(ps)
    await ps.create_all()

    async def crash_after_upsert() -> None:
        async with ps.begin() as conn:
            await ps.upsert(
                progress,
                {"job_id": 1, "peer_id": 1, "status": "sent"},
                key=["job_id", "peer_id"],
                conn=conn,
            )
            raise RuntimeError("crash before the send is confirmed")

    with pytest.raises(RuntimeError):
        await crash_after_upsert()
    assert await rows(ps, progress) == []


async def test_upsert_refuses_mistakes(storage: Storage) -> None:
    ps = storage.for_plugin("broadcast")
    progress = progress_table(ps)
    other = storage.for_plugin("other")
    foreign = other.table("t", Column("id", Integer, primary_key=True))
    await ps.create_all()
    row = {"job_id": 1, "peer_id": 1, "status": "x"}
    key = ["job_id", "peer_id"]
    cases: list[tuple[dict[str, object], str]] = [
        ({"table": foreign, "values": {"id": 1}, "key": "id"}, "its own tables"),
        ({"values": row, "key": ["job_id"]}, "not the primary key or a unique"),
        ({"values": {**row, "nope": 1}, "key": key}, "no column"),
        ({"values": [row, {"job_id": 2, "peer_id": 2}], "key": key}, "same columns"),
        ({"values": {"status": "x"}, "key": key}, "lack key column"),
        ({"values": row, "key": key, "update": ["job_id"]}, "cannot be updated"),
        ({"values": row, "key": key, "update": ["error"]}, "not in the rows"),
    ]
    for arguments, expected in cases:
        table = arguments.pop("table", progress)
        with pytest.raises(StorageError, match=expected):
            await ps.upsert(table, **arguments)  # type: ignore[arg-type]
    await ps.upsert(progress, [], key=key)  # nothing to do
    assert await rows(ps, progress) == []
