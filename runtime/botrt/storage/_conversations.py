"""Durable conversation states: ``botrt_conversation``, one row per (bot, peer, user, plugin).

The host keeps these rows in memory too (``botrt.handle``'s `ConversationStates`
loads them at start and writes through to here); this module is only the
database side: load (pruning what has expired), load one bot's (a cluster's
takeover), put, touch, delete, prune.

A cluster's worker writes a conversation's row only while it holds the lease of the
conversation's partition (docs/cluster.md): `put`, `touch` and `delete` then take that
lease as `fence`, and write nothing once its row has another owner or epoch. On
PostgreSQL the check is part of the write's own statement (a CTE that reads the lease
row ``FOR SHARE``, as `Leases.holds` does), so a fenced write costs no extra round trip;
a takeover's update of the lease row either committed first (the write is refused) or
waits for the write to commit.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    delete,
    exists,
    func,
    literal,
    select,
    update,
)

from botrt.storage._upsert import build_upsert

if TYPE_CHECKING:
    from sqlalchemy import CTE, Select
    from sqlalchemy.ext.asyncio import AsyncConnection
    from sqlalchemy.sql.dml import Delete, Update

    from botrt.storage._lease_model import Lease
    from botrt.storage._storage import Storage

StateKey = tuple[str, int, int]
"""(bot, peer, user): whose conversation it is."""
StoredState = tuple[StateKey, str, str, str, float]
"""(key, plugin, state, data as JSON text, expires at in seconds since the epoch)."""

MAX_STATE = 200
"""The longest state name, in characters (the column is ``VARCHAR(200)``)."""


def define_table(metadata: MetaData) -> Table:
    """The ``botrt_conversation`` table, on `metadata`. Raises nothing."""
    return Table(
        "botrt_conversation",
        metadata,
        Column("bot", String(200), nullable=False),
        Column("peer", BigInteger, nullable=False),
        Column("user_id", BigInteger, nullable=False),
        Column("plugin", String(200), nullable=False),
        Column("state", String(MAX_STATE), nullable=False),
        Column("data", Text, nullable=False),
        Column("expires_at", Float, nullable=False),
        PrimaryKeyConstraint("bot", "peer", "user_id", "plugin"),
        Index("botrt_conversation_expires", "expires_at"),
    )


class StateRows:
    """The durable side of conversation states, on one `Storage`.

    Every call runs in its own transaction, committed (durably) before it
    returns; each therefore must not be called inside a write transaction of
    the same task.
    """

    __slots__ = ("_leases", "_storage", "_table")

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._table = storage.core.conversation
        self._leases = storage.core.lease

    async def load(self, now: float) -> list[StoredState]:
        """Delete the rows expired at `now`, then return every other row.

        :raises StorageError: if the storage is closed or unreachable.
        """
        t = self._table
        async with self._storage.transaction(write=True) as conn:
            await conn.execute(delete(t).where(t.c.expires_at <= now))
            rows = (await conn.execute(select(t))).all()
        return [
            ((r.bot, int(r.peer), int(r.user_id)), r.plugin, r.state, r.data, float(r.expires_at))
            for r in rows
        ]

    async def load_bot(self, bot: str, now: float) -> list[StoredState]:
        """Every row of `bot` that has not expired at `now` (nothing is deleted).

        :raises StorageError: if the storage is closed or unreachable.
        """
        t = self._table
        async with self._storage.transaction(write=False) as conn:
            rows = (await conn.execute(select(t).where(t.c.bot == bot, t.c.expires_at > now))).all()
        return [
            ((r.bot, int(r.peer), int(r.user_id)), r.plugin, r.state, r.data, float(r.expires_at))
            for r in rows
        ]

    async def put(
        self,
        key: StateKey,
        plugin: str,
        state: str,
        data: str,
        expires_at: float,
        fence: Lease | None = None,
    ) -> bool:
        """Store `plugin`'s state for `key`, replacing the one it had.

        With `fence`, only while that lease (its owner and epoch) still holds: returns
        False, having written nothing, once another owner took it. Without, True.

        :raises StorageError: if the storage is closed or unreachable.
        """
        t = self._table
        bot, peer, user = key
        row = {
            "bot": bot,
            "peer": peer,
            "user_id": user,
            "plugin": plugin,
            "state": state,
            "data": data,
            "expires_at": expires_at,
        }
        keys = ["bot", "peer", "user_id", "plugin"]
        if fence is not None and self._storage.backend == "postgresql":
            return await self._put_fenced(row, keys, fence)
        statement = build_upsert(self._storage.backend, t, [row], keys, None)
        async with self._storage.transaction(write=True) as conn:
            if fence is not None and not await self._holds(conn, fence):
                return False
            await conn.execute(statement, [row])
        return True

    async def touch(
        self,
        key: StateKey,
        plugins: Collection[str],
        expires_at: float,
        fence: Lease | None = None,
    ) -> bool:
        """Move the expiry of `plugins`' states for `key` to `expires_at`.

        With `fence`, as `put`: False when the lease no longer holds (nothing written).

        :raises StorageError: if the storage is closed or unreachable.
        """
        t = self._table
        statement = update(t).where(*self._where(key, plugins)).values(expires_at=expires_at)
        return await self._write(statement, fence)

    async def delete(
        self, key: StateKey, plugins: Collection[str], fence: Lease | None = None
    ) -> bool:
        """Forget `plugins`' states for `key`.

        With `fence`, as `put`: False when the lease no longer holds (nothing deleted).

        :raises StorageError: if the storage is closed or unreachable.
        """
        return await self._write(delete(self._table).where(*self._where(key, plugins)), fence)

    async def _write(self, statement: Update | Delete, fence: Lease | None) -> bool:
        # An update or delete, behind `fence` if any: on PostgreSQL one statement, the
        # write in a CTE that runs only if the fence's row was found (and locked).
        if fence is not None and self._storage.backend == "postgresql":
            held = self._fence(fence)
            done = statement.where(exists(select(held.c.epoch))).cte("done")
            count = select(func.count()).select_from(held).add_cte(done)
            async with self._storage.transaction(write=True) as conn:
                return bool((await conn.execute(count)).scalar_one())
        async with self._storage.transaction(write=True) as conn:
            if fence is not None and not await self._holds(conn, fence):
                return False
            await conn.execute(statement)
        return True

    async def _put_fenced(self, row: dict[str, object], keys: list[str], fence: Lease) -> bool:
        # ``WITH fence AS (...) INSERT ... SELECT <row> FROM fence ON CONFLICT ...``: the
        # row is inserted (or replaces the old) only if the fence's row was found.
        from sqlalchemy.dialects.postgresql import insert

        t = self._table
        held = self._fence(fence)
        values = select(*[literal(v, t.c[k].type).label(k) for k, v in row.items()])
        statement = insert(t).from_select(list(row), values.select_from(held))
        statement = statement.on_conflict_do_update(
            index_elements=keys,
            set_={k: statement.excluded[k] for k in row if k not in keys},
        ).returning(literal(1))
        async with self._storage.transaction(write=True) as conn:
            return (await conn.execute(statement)).first() is not None

    def _fence(self, fence: Lease) -> CTE:
        # The lease row, if it is still `fence`'s, locked until the write commits.
        return self._lease_row(fence).with_for_update(read=True).cte("fence")

    async def _holds(self, conn: AsyncConnection, fence: Lease) -> bool:
        # SQLite: the write transaction already excludes every other writer.
        return (await conn.execute(self._lease_row(fence))).first() is not None

    def _lease_row(self, fence: Lease) -> Select[tuple[int]]:
        lease = self._leases
        return select(lease.c.epoch).where(
            lease.c.name == fence.name,
            lease.c.owner == fence.owner,
            lease.c.epoch == fence.epoch,
        )

    async def prune(self, now: float) -> int:
        """Delete every row expired at `now`; returns how many there were.

        :raises StorageError: if the storage is closed or unreachable.
        """
        t = self._table
        async with self._storage.transaction(write=True) as conn:
            result = await conn.execute(delete(t).where(t.c.expires_at <= now))
            return max(int(result.rowcount), 0)

    def _where(self, key: StateKey, plugins: Collection[str]) -> tuple[object, ...]:
        t = self._table
        bot, peer, user = key
        return (
            t.c.bot == bot,
            t.c.peer == peer,
            t.c.user_id == user,
            t.c.plugin.in_(list(plugins)),
        )
