"""The inbox: updates a bot accepted, kept until handled, so a crash loses none and a retry
or a replay is recognised across restarts.

One `Inbox` per host serves every bot. What it promises:

- `accept` (a webhook's update) and `record` (a polled batch and the position after
  it) return only once their rows are committed: an update is durable before anyone
  is told it was taken, and a polled batch and its position are one transaction, so
  the stored position never runs ahead of what is recorded.
- A (bot, event id) already in the inbox is reported as seen and not handed on again.
- `done` marks an update handled. Marks are written with the next write, or on
  their own `flush_delay` seconds later if none comes. A crash between the end of
  a handling and its mark's commit leaves it unmarked, and it is handled again at
  the next start: at least once, never lost. A mark made with a `fence` (a cluster
  worker's partition lease, at the epoch it handled the update under) is written only
  while that lease still holds, in the same statement: a worker that lost the partition
  meanwhile cannot mark an update its new owner has still to handle. A refused mark is
  logged and dropped, not retried.
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
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from botrt.storage._inbox_sqlite import _SqliteWriter
from botrt.storage._inbox_writer import InboxWriter

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from botrt.storage._lease_model import Lease
    from botrt.storage._storage import Storage

# VK re-sends an unanswered Callback update after 10 s, 3, 10 and 30 min and 1 h:
# the last retry comes about 1 h 43 min after the first try, "or later" by VK's own
# words. Three hours covers that with room; a row costs a few hundred bytes.
DEFAULT_KEEP = 3 * 3600.0
# Marks alone wait this long for a write to ride with: under load they always find
# one (a mark-only commit would cost as much as a batch of updates); idle, 50 ms.
DEFAULT_FLUSH_DELAY = 0.05
DEFAULT_PRUNE_EVERY = 600.0

Key = tuple[str, str]
"""(bot, event id)."""

FencedKey = tuple[str, str, "Lease"]
"""(bot, event id, the lease its handler held): a mark written only while the lease holds."""

Fence = Callable[["AsyncConnection"], Awaitable[None]]
"""Run first in a batch's transaction: raises (rolling the batch back) if its writer may no
longer write, e.g. a cluster's leader whose lease another worker has taken since."""


class Inbox(InboxWriter):
    """The durable inbox of every bot of one host, on the host's `Storage`.

    Attributes:
        now: gives the host's time in seconds since the epoch (the host's clock,
            which tests move by hand).
        keep, flush_delay, prune_every: as the module docstring says.

    Writing (the group commits) is `InboxWriter`, a base class.
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
        self._fenced: list[FencedKey] = []
        self._writer: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()
        self._sqlite = _SqliteWriter(storage) if storage.backend == "sqlite" else None

    # -- recording -------------------------------------------------------------

    def accept(self, bot: str, event_id: str, body: str) -> asyncio.Future[bool]:
        """Record one update; await it: True if it is new, False if (bot, event_id) was there.

        The future is done once the row is committed, sharing the transaction with
        the other calls waiting at that moment. (A future, not a coroutine: the
        webhook awaits one per request, and a coroutine around it is a frame more
        to make and to resume.)

        :raises StorageError: from the future, if the database cannot be reached
            (nothing recorded).
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((bot, event_id, body, future))
        if self._writer is None:
            self._wake_writer()
        return future

    async def record(
        self,
        bot: str,
        updates: Sequence[tuple[str, str]],
        position: str | None,
        *,
        fence: Fence | None = None,
    ) -> list[bool]:
        """Record a batch of (event id, body) and `bot`'s new `position`, in one transaction.

        Returns, per update, whether it is new. `position` None leaves the stored
        one as it is. A `fence` runs first inside that transaction (a cluster's
        leader proving it still leads); whatever it raises rolls everything back
        and propagates.

        :raises StorageError: if the database cannot be reached (nothing recorded).
        """
        rows = [(bot, key, body) for key, body in updates]
        fresh = await self._commit(rows, None if position is None else (bot, position), fence)
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
        async with self._lock, self._storage.transaction(write=False) as conn:
            rows = (
                await conn.execute(
                    select(t.c.event_id, t.c.body)
                    .where(t.c.bot == bot, t.c.handled_at.is_(None))
                    .order_by(t.c.id)
                )
            ).all()
            found = [(str(k), str(body)) for k, body in rows if (bot, k) not in self._inflight]
            self._inflight.update((bot, key) for key, _ in found)
        return found

    def forget(self, bot: str, event_id: str) -> None:
        """Stop counting (bot, event_id) as this process's own: another process handles it
        (a cluster worker that only recorded it). Raises nothing."""
        self._inflight.discard((bot, event_id))

    # -- marking ---------------------------------------------------------------

    def done(self, bot: str, event_id: str, fence: Lease | None = None) -> None:
        """Mark (bot, event_id) handled: written with the next commit. Raises nothing.

        With `fence` (the partition lease the update was handled under), the mark is
        written only if that lease, its owner and epoch, still holds when it commits;
        else it is dropped and logged, and the lease's new holder handles the update.
        """
        if fence is None:
            self._marks.append((bot, event_id))
        else:
            self._fenced.append((bot, event_id, fence))
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
        if self._marks or self._fenced:
            await self._commit([], None)

    @property
    def pending_marks(self) -> int:
        """Marks not yet written. Raises nothing."""
        return len(self._marks) + len(self._fenced)

    async def close(self) -> None:
        """Write the marks made so far, then release the SQLite writer's connection.

        Idempotent; the inbox must not be used afterwards.

        :raises StorageError: if the marks cannot be written (the connection is
            released anyway).
        """
        try:
            await self.flush()
        finally:
            if self._sqlite is not None:
                await self._sqlite.close()
