"""The marks table: one row per student, day and lesson they missed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Select,
    String,
    Table,
    and_,
    delete,
    select,
)

from botrt.storage import PluginStorage

from .settings import MAX_LESSON

SCHEMA_VERSION = 1
WHOLE_DAY = ""
"""The lesson of a mark for the whole day (a primary key column cannot be NULL)."""


@dataclass(frozen=True, slots=True)
class Mark:
    """One absence: `user_id` missed `lesson` (or the whole day) on `day`."""

    user_id: int
    day: date
    lesson: str
    marked_by: int
    marked_at: datetime


def define_marks(ps: PluginStorage) -> Table:
    """Declare the marks table (``attendance__marks``) on `ps` and return it."""
    return ps.table(
        "marks",
        Column("bot", String(100), primary_key=True),
        Column("user_id", BigInteger, primary_key=True, autoincrement=False),
        Column("date", Date, primary_key=True),
        Column("lesson", String(MAX_LESSON), primary_key=True),
        Column("marked_by", BigInteger, nullable=False),
        Column("marked_at", DateTime(timezone=True), nullable=False),
        # Tables and exports read a range of days of one bot.
        Index("marks_by_date", "bot", "date"),
    )


async def setup(ps: PluginStorage) -> None:
    """Declare the table and bring it to `SCHEMA_VERSION` (creating it on a first run).

    :raises MigrationError: if the stored schema is newer than this code.
    :raises StorageError: if the database cannot be reached.
    """
    define_marks(ps)
    await ps.migrate(SCHEMA_VERSION)


class Marks:
    """The marks of every bot; each write is committed, durably, before it returns."""

    def __init__(self, ps: PluginStorage) -> None:
        self._ps = ps
        table = ps.tables.get("marks")
        # on_load declared it; declaring it again is only for a handle made without on_load.
        self._t = table if table is not None else define_marks(ps)

    async def add(
        self, bot: str, user_ids: Sequence[int], day: date, lesson: str, marked_by: int
    ) -> set[int]:
        """Mark `user_ids` absent from `lesson` on `day`; returns those newly marked.

        A student already marked keeps their mark as it was (who and when), so
        marking twice changes nothing.
        """
        t = self._t
        async with self._ps.begin() as conn:
            found = await conn.execute(
                select(t.c.user_id).where(
                    t.c.bot == bot, t.c.date == day, t.c.lesson == lesson, t.c.user_id.in_(user_ids)
                )
            )
            new = set(user_ids) - {int(r[0]) for r in found}
            now = datetime.now(UTC)
            rows = [
                {
                    "bot": bot,
                    "user_id": uid,
                    "date": day,
                    "lesson": lesson,
                    "marked_by": marked_by,
                    "marked_at": now,
                }
                for uid in user_ids
                if uid in new
            ]
            # update=() is "insert or leave as is", should another writer have just marked one.
            await self._ps.upsert(
                t, rows, key=["bot", "user_id", "date", "lesson"], update=(), conn=conn
            )
        return new

    async def remove(
        self, bot: str, user_ids: Sequence[int], day: date, lesson: str | None
    ) -> dict[int, list[str]]:
        """Remove the marks of `user_ids` on `day`: of `lesson`, or every one when None.

        Returns the lessons removed, per student that had any.
        """
        t = self._t
        where = and_(t.c.bot == bot, t.c.date == day, t.c.user_id.in_(user_ids))
        if lesson is not None:
            where = and_(where, t.c.lesson == lesson)
        removed: dict[int, list[str]] = {}
        async with self._ps.begin() as conn:
            rows = await conn.execute(select(t.c.user_id, t.c.lesson).where(where))
            for uid, les in rows:
                removed.setdefault(int(uid), []).append(les)
            if removed:
                await conn.execute(delete(t).where(where))
        return removed

    async def of_user(
        self, bot: str, user_id: int, start: date | None, end: date | None
    ) -> list[Mark]:
        """The marks of one student, by day (every day when `start`/`end` are None)."""
        t = self._t
        query = select(t).where(t.c.bot == bot, t.c.user_id == user_id)
        return await self._fetch(query, start, end)

    async def between(self, bot: str, start: date | None, end: date | None) -> list[Mark]:
        """Every mark of `bot` from `start` to `end` (included; None: unbounded), by day."""
        t = self._t
        return await self._fetch(select(t).where(t.c.bot == bot), start, end)

    async def _fetch(self, query: Select[Any], start: date | None, end: date | None) -> list[Mark]:
        t = self._t
        if start is not None:
            query = query.where(t.c.date >= start)
        if end is not None:
            query = query.where(t.c.date <= end)
        rows = await self._ps.fetch_all(query.order_by(t.c.date, t.c.user_id, t.c.lesson))
        return [
            Mark(
                user_id=int(r.user_id),
                day=r.date,
                lesson=r.lesson,
                marked_by=int(r.marked_by),
                marked_at=_utc(r.marked_at),
            )
            for r in rows
        ]


def _utc(value: datetime) -> datetime:
    # SQLite keeps no zone: what was written as UTC comes back naive.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
