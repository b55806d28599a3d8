"""Durable conversation states: ``botrt_conversation``, one row per (bot, peer, user, plugin).

The host keeps these rows in memory too (``botrt.handle``'s `ConversationStates`
loads them at start and writes through to here); this module is only the
database side: load (pruning what has expired), load one bot's (a cluster's
takeover), put, touch, delete, prune.
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
    select,
    update,
)

from botrt.storage._upsert import build_upsert

if TYPE_CHECKING:
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

    __slots__ = ("_storage", "_table")

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._table = storage.core.conversation

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
        self, key: StateKey, plugin: str, state: str, data: str, expires_at: float
    ) -> None:
        """Store `plugin`'s state for `key`, replacing the one it had.

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
        statement = build_upsert(self._storage.backend, t, [row], keys, None)
        async with self._storage.transaction(write=True) as conn:
            await conn.execute(statement, [row])

    async def touch(self, key: StateKey, plugins: Collection[str], expires_at: float) -> None:
        """Move the expiry of `plugins`' states for `key` to `expires_at`.

        :raises StorageError: if the storage is closed or unreachable.
        """
        t = self._table
        async with self._storage.transaction(write=True) as conn:
            await conn.execute(
                update(t).where(*self._where(key, plugins)).values(expires_at=expires_at)
            )

    async def delete(self, key: StateKey, plugins: Collection[str]) -> None:
        """Forget `plugins`' states for `key`.

        :raises StorageError: if the storage is closed or unreachable.
        """
        async with self._storage.transaction(write=True) as conn:
            await conn.execute(delete(self._table).where(*self._where(key, plugins)))

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
