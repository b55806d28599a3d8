"""The inbox's partitions: which conversation's updates a cluster worker handles.

A cluster (``[cluster] enabled``, PostgreSQL) splits each bot's conversations into
`PARTITIONS` partitions and gives each partition to one worker at a time (a lease per
partition, `botrt.protocols.vk._partitions`). This module is the database side:

- `prepare_partitions` adds ``botrt_inbox.part``, a column PostgreSQL computes itself from the
  row (``GENERATED ALWAYS ... STORED``): a hash of the bot and the update's peer, so
  every row gets its partition in the insert that records it, whichever worker
  recorded it, with no change to the inbox's writers and no second round trip. It
  also adds a partial index on the unhandled rows, which is all an owner reads, and
  a trigger that notifies `CHANNEL` with ``<bot>/<partition>`` of the rows each insert
  recorded: a wake-up hint for their owner only (`listen_inbox`), never the truth (a
  notification is lost when nobody listens; the rows are read on a timer too).
- `pending_rows` reads the unhandled rows of some partitions of a bot, in the order they
  were recorded.
- `renew_all` and `route_leases` renew and read a bot's partition leases in one
  statement each (64 partitions would otherwise cost 64 transactions per renewal);
  they keep `botrt.storage.Leases`' rules: a renewal matches the owner, whose epoch
  does not change while it holds the lease.

The partition of an update is computed by PostgreSQL only: Python learns it from the
notification (the receiving worker does not compute it; the owner is woken by PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import anyio
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from botrt.storage._errors import StorageError

if TYPE_CHECKING:
    from botrt.storage._storage import Storage

PARTITIONS = 64
"""Partitions per bot: more than workers a cluster will have, few enough to renew cheaply."""

# The update's peer, as the host's lanes key a conversation (`lane_key`: bot and
# peer_id): a message's peer (or its author, for a message without one), else the
# object's peer or user. Updates with none share the partition of the empty peer.
_PEER = (
    "coalesce(body::jsonb #>> '{object,message,peer_id}', "
    "body::jsonb #>> '{object,message,from_id}', "
    "body::jsonb #>> '{object,peer_id}', "
    "body::jsonb #>> '{object,user_id}', '')"
)
_ADD_PART = (
    "ALTER TABLE botrt_inbox ADD COLUMN IF NOT EXISTS part integer GENERATED ALWAYS AS "
    f"((hashtext(bot || '/' || {_PEER}) & 2147483647) % {PARTITIONS}) STORED"
)
_ADD_INDEX = (
    "CREATE INDEX IF NOT EXISTS botrt_inbox_unhandled_part "
    "ON botrt_inbox (bot, part, id) WHERE handled_at IS NULL"
)
CHANNEL = "botrt_inbox"
"""The `LISTEN` channel on which each insert into the inbox names the ``<bot>/<partition>``
pairs of its rows (a wake-up hint)."""
# Once per statement, one notification per bot and partition; PostgreSQL folds repeats
# within a transaction. NOTIFY is delivered at commit, so a woken owner reads committed
# rows. The partition in it lets only the owner wake: every worker listens, and a read
# per worker per update is what kept a cluster from scaling.
_NOTIFY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION botrt_inbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', bot || '/' || part)
        FROM (SELECT DISTINCT bot, part FROM fresh) AS recorded;
    RETURN NULL;
END $$
"""
_HAS_TRIGGER = "SELECT 1 FROM pg_trigger WHERE tgname = 'botrt_inbox_notify'"
_ADD_TRIGGER = (
    "CREATE TRIGGER botrt_inbox_notify AFTER INSERT ON botrt_inbox "
    "REFERENCING NEW TABLE AS fresh FOR EACH STATEMENT EXECUTE FUNCTION botrt_inbox_notify()"
)
# Any number, the same in every worker: two workers starting together alter the table once.
_LOCK_KEY = 0x626F7472  # "botr"

Row = tuple[int, str, str, int]
"""(row id, event id, body, partition) of an unhandled update."""


async def prepare_partitions(storage: Storage) -> None:
    """Give ``botrt_inbox`` its computed partition column, index and `CHANNEL` trigger, if
    missing.

    Idempotent and safe for several workers starting at once (an advisory lock).

    :raises StorageError: if the storage is not PostgreSQL, or cannot be reached.
    """
    if storage.backend != "postgresql":
        raise StorageError(
            f"conversation partitions need PostgreSQL, not {storage.backend} "
            "([cluster] enabled = true with [storage] url on PostgreSQL)"
        )
    async with storage.transaction(write=True) as conn:
        await conn.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))
        await conn.execute(text(_ADD_PART))
        await conn.execute(text(_ADD_INDEX))
        # Replaced at every start: a database an older botrt prepared gets this payload.
        await conn.exec_driver_sql(_NOTIFY_FUNCTION)
        if (await conn.execute(text(_HAS_TRIGGER))).first() is None:
            await conn.execute(text(_ADD_TRIGGER))


async def pending_rows(storage: Storage, bot: str, parts: Sequence[int]) -> list[Row]:
    """The unhandled rows of `bot` in partitions `parts`, oldest first.

    :raises StorageError: if the storage cannot be reached.
    """
    if not parts:
        return []
    statement = text(
        "SELECT id, event_id, body, part FROM botrt_inbox "
        "WHERE bot = :bot AND handled_at IS NULL AND part = ANY(:parts) ORDER BY id"
    )
    async with storage.transaction(write=False) as conn:
        rows = (await conn.execute(statement, {"bot": bot, "parts": list(parts)})).all()
    return [(int(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]


async def renew_all(storage: Storage, prefix: str, owner: str, expires_at: float) -> dict[str, int]:
    """Extend every lease named ``prefix...`` that `owner` holds to `expires_at`.

    Returns the names renewed with their epochs: a lease missing from it was lost.

    :raises StorageError: if the storage cannot be reached.
    """
    t = storage.core.lease
    async with storage.transaction(write=True) as conn:
        result = await conn.execute(
            update(t)
            .where(t.c.name.startswith(prefix, autoescape=True), t.c.owner == owner)
            .values(expires_at=expires_at)
            .returning(t.c.name, t.c.epoch)
        )
        return {str(name): int(epoch) for name, epoch in result.all()}


async def route_leases(storage: Storage, prefix: str) -> list[tuple[str, str, int, float]]:
    """Every lease named ``prefix...``: (name, owner, epoch, expires at).

    :raises StorageError: if the storage cannot be reached.
    """
    t = storage.core.lease
    async with storage.transaction(write=False) as conn:
        rows = (
            await conn.execute(
                select(t.c.name, t.c.owner, t.c.epoch, t.c.expires_at).where(
                    t.c.name.startswith(prefix, autoescape=True)
                )
            )
        ).all()
    return [(str(r[0]), str(r[1]), int(r[2]), float(r[3])) for r in rows]


async def listen_inbox(
    storage: Storage,
    wake: Callable[[str], object],
    listening: Callable[[], object] | None = None,
) -> None:
    """Call `wake(payload)` for each notification on `CHANNEL` (``<bot>/<partition>``), until
    the connection is lost; `listening()` once the listener is in place.

    Holds one connection of the storage's pool (invalidated afterwards, so no pooled
    connection keeps listening). Returns when the connection is lost; cancel it to stop.

    :raises StorageError: if the storage cannot be reached.
    """
    try:
        async with storage.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            lost = anyio.Event()

            def notified(_conn: object, _pid: int, _channel: str, payload: str) -> None:
                wake(payload)

            raw.add_termination_listener(lambda _conn: lost.set())
            await raw.add_listener(CHANNEL, notified)
            if listening is not None:
                listening()
            try:
                await lost.wait()
            finally:
                with anyio.CancelScope(shield=True):
                    await conn.invalidate()
    except (DBAPIError, OSError) as exc:
        raise StorageError(f"cannot listen on {storage.url}: {exc}") from exc
