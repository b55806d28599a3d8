"""The inbox: updates a bot accepted, kept until handled, so a crash loses none and a retry
or a replay is recognised across restarts.

One `Inbox` per host serves every bot. What it promises:

- `accept` (a webhook's update) and `record` (a polled batch and the position after
  it) return only once their rows are committed: an update is durable before anyone
  is told it was taken, and a polled batch and its position are one transaction, so
  the stored position never runs ahead of what is recorded.
- A (bot, event id) already in the inbox is reported as seen and not handed on again.
- `done` marks an update handled. Marks are group-committed too: written at once
  when nothing else is being written, else with the next write (or `flush_delay`
  seconds later, when that is set). A crash between the end of a handling and its
  mark's commit leaves it unmarked, and it is handled again at the next start: at
  least once, never lost.
- `unhandled` lists what a previous process recorded and never handled, in the
  order it was recorded, skipping what this process is handling itself.
- Handled rows are deleted once older than `keep` (the window the platform retries
  in), checked at most every `prune_every` seconds by the host's clock.

Concurrent `accept` calls share one transaction (group commit): while one batch
commits, the next gathers, so a burst of webhook requests costs one durable write
per batch rather than one per request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from sqlalchemy import and_, bindparam, delete, select, update

from botrt.storage._upsert import build_upsert

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from botrt.storage._storage import Storage

log = logging.getLogger("botrt.storage.inbox")

# VK re-sends an unanswered Callback update after 10 s, 3, 10 and 30 min and 1 h:
# the last retry comes about 1 h 43 min after the first try, "or later" by VK's own
# words. Three hours covers that with room; a row costs a few hundred bytes.
DEFAULT_KEEP = 3 * 3600.0
DEFAULT_FLUSH_DELAY = 0.0
DEFAULT_PRUNE_EVERY = 600.0

Key = tuple[str, str]
"""(bot, event id)."""


class Inbox:
    """The durable inbox of every bot of one host, on the host's `Storage`.

    Attributes:
        now: gives the host's time in seconds since the epoch (the host's clock,
            which tests move by hand).
        keep, flush_delay, prune_every: as the module docstring says.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        now: Callable[[], float],
        keep: float = DEFAULT_KEEP,
        flush_delay: float = DEFAULT_FLUSH_DELAY,
        prune_every: float = DEFAULT_PRUNE_EVERY,
    ) -> None:
        """Use `storage`'s ``botrt_inbox`` and ``botrt_cursor`` tables. Raises nothing."""
        self._storage = storage
        self._inbox = storage.core.inbox
        self._cursor = storage.core.cursor
        self.now = now
        self.keep = keep
        self.flush_delay = flush_delay
        self.prune_every = prune_every
        self._next_prune: float | None = None
        # Recorded or replayed by this process and not yet marked in the database:
        # `unhandled` must not hand them out a second time.
        self._inflight: set[Key] = set()
        self._waiting: list[tuple[str, str, str, asyncio.Future[bool]]] = []
        self._marks: list[Key] = []
        self._writer: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    # -- recording -------------------------------------------------------------

    async def accept(self, bot: str, event_id: str, body: str) -> bool:
        """Record one update; True if it is new, False if (bot, event_id) was there.

        Returns once the row is committed, sharing the transaction with the other
        calls waiting at that moment.

        :raises StorageError: if the database cannot be reached (nothing recorded).
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((bot, event_id, body, future))
        self._wake_writer()
        return await future

    async def record(
        self, bot: str, updates: Sequence[tuple[str, str]], position: str | None
    ) -> list[bool]:
        """Record a batch of (event id, body) and `bot`'s new `position`, in one transaction.

        Returns, per update, whether it is new. `position` None leaves the stored
        one as it is.

        :raises StorageError: if the database cannot be reached (nothing recorded).
        """
        async with self._write() as (conn, now):
            fresh = await self._insert(conn, [(bot, key, body) for key, body in updates], now)
            if position is not None:
                await self._store_position(conn, bot, position, now)
        return [(bot, key) in fresh for key, _ in updates]

    async def position(self, bot: str) -> tuple[str, float] | None:
        """`bot`'s stored position and when it was stored (epoch seconds), or None.

        :raises StorageError: if the database cannot be reached.
        """
        async with self._storage.transaction(write=False) as conn:
            row = (
                await conn.execute(
                    select(self._cursor.c.position, self._cursor.c.updated_at).where(
                        self._cursor.c.bot == bot
                    )
                )
            ).first()
        return None if row is None else (str(row[0]), float(row[1]))

    async def save_position(self, bot: str, position: str) -> None:
        """Store `bot`'s position alone (nothing new came with it).

        :raises StorageError: if the database cannot be reached.
        """
        await self.record(bot, (), position)

    async def unhandled(self, bot: str) -> list[tuple[str, str]]:
        """What was recorded for `bot` and never handled: (event id, body), oldest first.

        Leaves out what this process recorded or replayed and has not yet marked,
        and counts what it returns as replayed.

        :raises StorageError: if the database cannot be reached.
        """
        t = self._inbox
        async with self._storage.transaction(write=False) as conn:
            rows = (
                await conn.execute(
                    select(t.c.event_id, t.c.body)
                    .where(t.c.bot == bot, t.c.handled_at.is_(None))
                    .order_by(t.c.id)
                )
            ).all()
        found = [(str(key), str(body)) for key, body in rows if (bot, key) not in self._inflight]
        self._inflight.update((bot, key) for key, _ in found)
        return found

    # -- marking ---------------------------------------------------------------

    def done(self, bot: str, event_id: str) -> None:
        """Mark (bot, event_id) handled: written with the next commit. Raises nothing."""
        self._marks.append((bot, event_id))
        if self._writer is not None or self._timer is not None:
            return  # the writer at work takes it next, or the timer is set
        if self.flush_delay <= 0:
            self._wake_writer()
        else:
            self._timer = asyncio.get_running_loop().call_later(self.flush_delay, self._wake_writer)

    async def flush(self) -> None:
        """Write every mark made so far, and wait for the commits in progress.

        For a stop: a mark not written is an update handled again at the next start.

        :raises StorageError: if the database cannot be reached.
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._writer is not None:
            await asyncio.shield(self._writer)
        if self._marks:
            async with self._write():
                pass

    @property
    def pending_marks(self) -> int:
        """Marks not yet written. Raises nothing."""
        return len(self._marks)

    # -- the writer --------------------------------------------------------------

    def _wake_writer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_all())

    async def _write_all(self) -> None:
        try:
            while self._waiting or self._marks:
                batch, self._waiting = self._waiting, []
                try:
                    async with self._write() as (conn, now):
                        rows = [(bot, key, body) for bot, key, body, _ in batch]
                        fresh = await self._insert(conn, rows, now)
                except Exception as exc:
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
            if self._marks and self._timer is None:
                # Only after a failed write: the marks wait for the next one, or a second.
                self._timer = asyncio.get_running_loop().call_later(
                    max(self.flush_delay, 1.0), self._wake_writer
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
        fresh = {(str(bot), str(key)) for bot, key in result.all()}
        self._inflight.update(fresh)
        return fresh

    async def _store_position(
        self, conn: AsyncConnection, bot: str, position: str, now: float
    ) -> None:
        row = {"bot": bot, "position": position, "updated_at": now}
        statement = build_upsert(conn.dialect.name, self._cursor, [row], ["bot"], None)
        await conn.execute(statement, [row])

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[tuple[AsyncConnection, float]]:
        # Every write transaction also writes the marks made so far (they ride along
        # for free) and prunes when it is time.
        marks, self._marks = self._marks, []
        now = self.now()
        try:
            async with self._storage.transaction(write=True) as conn:
                yield conn, now
                if marks:
                    t = self._inbox
                    statement = (
                        update(t)
                        .where(
                            and_(t.c.bot == bindparam("b_bot"), t.c.event_id == bindparam("b_id"))
                        )
                        .values(handled_at=now)
                    )
                    await conn.execute(statement, [{"b_bot": b, "b_id": k} for b, k in marks])
                if self._next_prune is None or now >= self._next_prune:
                    await self._prune(conn, now)
        except BaseException:
            self._marks[:0] = marks  # not written: the next transaction tries again
            raise
        # Out of flight only once committed: until then `unhandled` must skip them.
        self._inflight.difference_update(marks)

    async def _prune(self, conn: AsyncConnection, now: float) -> None:
        t = self._inbox
        result = await conn.execute(
            delete(t).where(t.c.handled_at.is_not(None), t.c.received_at < now - self.keep)
        )
        self._next_prune = now + self.prune_every
        if result.rowcount:
            log.debug("inbox: pruned %d handled updates", result.rowcount)
