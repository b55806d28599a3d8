"""The inbox's writer: group commits of accepted updates, positions and handled marks.

`InboxWriter` is mixed into `Inbox` (`botrt.storage._inbox`): `_wake_writer` starts
a task that commits what waits (`accept`'s updates, `done`'s marks) in shared
transactions; `_commit` is one such transaction, through the SQLite writer of
`botrt.storage._inbox_sqlite` or SQLAlchemy's statements here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import and_, bindparam, delete, select, text, update

from botrt.storage._upsert import build_upsert

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncConnection

    from botrt.storage._inbox import Fence, FencedKey, Key
    from botrt.storage._inbox_sqlite import _SqliteWriter
    from botrt.storage._storage import Storage

log = logging.getLogger("botrt.storage.inbox")

GATHER_TURNS = 4
"""Turns of the event loop a batch may wait for more requests, as long as each brings some."""


class InboxWriter:
    """The group-commit writer of `Inbox` (see the module)."""

    # Set by `Inbox.__init__`.
    _storage: Storage
    _inbox: Table
    _cursor: Table
    now: Callable[[], float]
    keep: float
    flush_delay: float
    prune_every: float
    _next_prune: float | None
    _inflight: set[Key]
    _waiting: list[tuple[str, str, str, asyncio.Future[bool]]]
    _marks: list[Key]
    _fenced: list[FencedKey]
    _writer: asyncio.Task[None] | None
    _timer: asyncio.TimerHandle | None
    _lock: asyncio.Lock
    _sqlite: _SqliteWriter | None

    def _wake_writer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_all())

    async def _gather(self) -> None:
        # Turns of the loop before a batch is taken, while it still grows: the
        # requests of a burst reach `accept` over a few turns (read, parsed, checked),
        # and each commit costs the same whatever its size. A lone request waits one
        # turn, and no turn waits for a timer: the loop runs them back to back.
        waiting = self._waiting
        for _ in range(GATHER_TURNS):
            before = len(waiting)
            await asyncio.sleep(0)
            waiting = self._waiting
            if len(waiting) == before:
                return

    async def _write_all(self) -> None:
        failed = False
        # Woken, the writer writes what there is; after a commit, marks made meanwhile
        # are written alone only if they may not wait: else they ride with the next
        # batch, or the timer wakes the writer for them.
        alone = True
        try:
            while self._waiting or ((self._marks or self._fenced) and alone):
                alone = self.flush_delay <= 0
                await self._gather()
                batch, self._waiting = self._waiting, []
                try:
                    # Unshielded: this task is the loop's own (`_wake_writer`), outside
                    # every anyio cancel scope, so nothing a shield stops can reach it.
                    fresh = await self._commit(
                        [(bot, key, body) for bot, key, body, _ in batch], None, shield=False
                    )
                except Exception as exc:
                    failed = True
                    if not batch:
                        log.warning("inbox: handled marks not written, retried later: %s", exc)
                        return
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                seen: set[Key] = set()
                for bot, key, _, future in batch:
                    # The same update twice in one batch (a retry racing its first
                    # try): the first request takes it, the second is a duplicate.
                    new = (bot, key) in fresh and (bot, key) not in seen
                    seen.add((bot, key))
                    if not future.done():
                        future.set_result(new)
        finally:
            self._writer = None
            if (self._marks or self._fenced) and self._timer is None:
                # Marks made during the last commit, or not written by a failed one:
                # they wait for the next write, or `flush_delay` (a second after a failure).
                delay = max(self.flush_delay, 1.0) if failed else self.flush_delay
                self._timer = asyncio.get_running_loop().call_later(delay, self._wake_writer)

    async def _commit(
        self,
        rows: Sequence[tuple[str, str, str]],
        position: tuple[str, str] | None,
        fence: Fence | None = None,
        *,
        shield: bool = True,
    ) -> set[Key]:
        # One write transaction: the new rows, a position, and every mark made so far
        # (they ride along for free), pruning when it is time. Returns the new keys.
        async with self._lock:  # `unhandled` sees the rows and `_inflight` agree
            marks, self._marks = self._marks, []
            fenced, self._fenced = self._fenced, []
            now = self.now()
            prune = self._next_prune is None or now >= self._next_prune
            held: set[Key] = set()
            try:
                if self._sqlite is not None and fence is None and not fenced:
                    fresh = await self._sqlite.commit(
                        shield=shield,
                        rows=rows,
                        position=position,
                        marks=marks,
                        now=now,
                        prune_before=now - self.keep if prune else None,
                    )
                else:
                    # A fence needs SQLAlchemy's connection (a cluster is PostgreSQL's;
                    # SQLite takes this path only in tests).
                    async with self._storage.transaction(write=True) as conn:
                        if fence is not None:
                            await fence(conn)
                        fresh = await self._insert(conn, rows, now)
                        if position is not None:
                            await self._store_position(conn, *position, now)
                        if marks:
                            await self._mark(conn, marks, now)
                        if fenced:
                            held = await self._mark_fenced(conn, fenced, now)
                        if prune:
                            await self._prune(conn, now)
            except BaseException:
                self._marks[:0] = marks  # not written: the next transaction tries again
                self._fenced[:0] = fenced
                raise
            if prune:
                self._next_prune = now + self.prune_every
            self._inflight.update(fresh)
            # Out of flight only once committed: until then `unhandled` must skip them.
            self._inflight.difference_update(marks)
            if fenced:
                self._refused(fenced, held)
            return fresh

    def _refused(self, fenced: list[FencedKey], held: set[Key]) -> None:
        # Out of flight too: a refused mark's update is the lease's new holder's now.
        for bot, key, lease in fenced:
            self._inflight.discard((bot, key))
            if (bot, key) not in held:
                log.warning(
                    "worker %s no longer holds %s at epoch %d: update %s of bot %s not marked "
                    "handled, so that the worker holding it now handles it (its replies keep "
                    "their random_id)",
                    lease.owner,
                    lease.name,
                    lease.epoch,
                    key,
                    bot,
                )

    async def _insert(
        self, conn: AsyncConnection, rows: Sequence[tuple[str, str, str]], now: float
    ) -> set[Key]:
        if not rows:
            return set()
        t = self._inbox
        params = [
            {"bot": bot, "event_id": key, "body": body, "received_at": now}
            for bot, key, body in rows
        ]
        statement = build_upsert(conn.dialect.name, t, params, ["bot", "event_id"], ())
        result = await conn.execute(statement.returning(t.c.bot, t.c.event_id), params)
        return {(str(bot), str(key)) for bot, key in result.all()}

    async def _store_position(
        self, conn: AsyncConnection, bot: str, position: str, now: float
    ) -> None:
        row = {"bot": bot, "position": position, "updated_at": now}
        statement = build_upsert(conn.dialect.name, self._cursor, [row], ["bot"], None)
        await conn.execute(statement, [row])

    async def _mark(self, conn: AsyncConnection, marks: list[Key], now: float) -> None:
        t = self._inbox
        statement = (
            update(t)
            .where(and_(t.c.bot == bindparam("b_bot"), t.c.event_id == bindparam("b_id")))
            .values(handled_at=now)
        )
        await conn.execute(statement, [{"b_bot": b, "b_id": k} for b, k in marks])

    async def _mark_fenced(
        self, conn: AsyncConnection, fenced: list[FencedKey], now: float
    ) -> set[Key]:
        # The marks whose lease still holds (owner and epoch), written; returns their keys.
        lease = self._storage.core.lease
        if conn.dialect.name == "postgresql":
            # One statement for the whole batch: the lease rows that still hold are
            # read FOR SHARE (a takeover waits for this commit, and one committed
            # before it is seen), their marks written, and their keys returned.
            statement = text(
                "WITH held AS (SELECT m.bot, m.event_id FROM unnest(CAST(:bots AS text[]), "
                "CAST(:ids AS text[]), CAST(:names AS text[]), CAST(:owners AS text[]), "
                "CAST(:epochs AS integer[])) AS m(bot, event_id, name, owner, epoch) "
                f"JOIN {lease.name} AS l ON l.name = m.name AND l.owner = m.owner "
                "AND l.epoch = m.epoch FOR SHARE OF l), "
                f"marked AS (UPDATE {self._inbox.name} AS i SET handled_at = :now FROM held "
                "WHERE i.bot = held.bot AND i.event_id = held.event_id) "
                "SELECT bot, event_id FROM held"
            )
            params = {
                "bots": [bot for bot, _, _ in fenced],
                "ids": [key for _, key, _ in fenced],
                "names": [f.name for _, _, f in fenced],
                "owners": [f.owner for _, _, f in fenced],
                "epochs": [f.epoch for _, _, f in fenced],
                "now": now,
            }
            rows = (await conn.execute(statement, params)).all()
            return {(str(bot), str(key)) for bot, key in rows}
        # SQLite (tests only: a cluster is PostgreSQL's): the write transaction already
        # excludes every other writer.
        held: set[Key] = set()
        for bot, key, f in fenced:
            row = await conn.execute(
                select(lease.c.epoch).where(
                    lease.c.name == f.name, lease.c.owner == f.owner, lease.c.epoch == f.epoch
                )
            )
            if row.first() is not None:
                held.add((bot, key))
        if held:
            await self._mark(conn, list(held), now)
        return held

    async def _prune(self, conn: AsyncConnection, now: float) -> None:
        t = self._inbox
        result = await conn.execute(
            delete(t).where(t.c.handled_at.is_not(None), t.c.received_at < now - self.keep)
        )
        if result.rowcount:
            log.debug("inbox: pruned %d handled updates", result.rowcount)
