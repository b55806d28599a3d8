"""Leases: one owner at a time for a named piece of work, with an expiry and a fencing epoch.

A lease is a row of ``botrt_lease(name, owner, epoch, expires_at)`` in the host's
`Storage` (SQLite or PostgreSQL). Whoever holds the lease of a name (a broadcast job,
a schedule, a bot's long poll...) is the one process doing that work; the others
leave it alone until the lease is released or expires. Times come from the host's
`Clock`, so tests move expiry and renewal by hand.

What it promises:

- `Leases.acquire` takes a lease that is free, released or expired, in one
  conditional update that only one process can win; it returns None while another
  owner's lease is alive. Acquiring a lease one already holds extends it.
- Every take-over by a new owner (and every acquire after a release) increments the
  lease's `epoch`: a fencing token. Work that writes elsewhere can carry it, so a
  write from an owner that lost the lease can be told apart from the new owner's.
- `Leases.renew` extends a held lease. If the row no longer has this owner and
  epoch (it expired and someone took it over), it raises `LeaseLostError`: the owner
  must stop the work, which is another process's now.
- `Leases.release` gives a lease back at once (a graceful stop), so another process
  takes over without waiting for the expiry. Releasing a lease already lost does
  nothing. The row stays, so the epoch keeps increasing across owners.
- `Leases.hold` does all three around a block: acquire (or raise `LeaseBusyError`),
  renew every quarter of the time to live while the block runs, release at the end;
  if a renewal finds the lease lost, the block is cancelled and `LeaseLostError` raised.
- `Leases.holds` is the fence: inside the caller's own transaction, whether a lease is
  still this holding, with the row locked until that transaction ends.

Usage::

    leases = Leases(storage, clock)
    lease = await leases.acquire("broadcast:job:3", owner=worker_id)
    if lease is None:
        ...  # alive elsewhere: leave it
    lease = await leases.renew(lease)  # raises LeaseLostError if taken over
    await leases.release(lease)

    async with leases.hold("schedule:notes:daily", owner=worker_id) as lease:
        ...  # renewed while this runs; cancelled if lost

A dead process's lease is taken over once it expires: `ttl` is how long the work
waits after a crash, and renewals run at a quarter of it, so a busy process has three
chances to renew before it loses the lease. The time to live is the storage's
`LeaseTiming` (`Storage.lease_timing`) unless a call names one: 30 s by default, and
in a cluster 0.4 of ``[cluster] failover``, which the host sets when it opens the
storage, so every lease user (schedules, broadcast jobs, member syncs, Long Poll
leadership) is taken over within `failover` seconds of its holder's death. A process
on the same host takes it over at once if the owner id names a process that has
exited (`worker_id` makes such ids, ``host:pid:random``): a restart after a crash
does not wait for the expiry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import anyio
from sqlalchemy import case, select, update
from sqlalchemy.exc import DBAPIError

from botrt.storage._errors import StorageError
from botrt.storage._lease_hold import LeaseHolding
from botrt.storage._lease_model import (
    MAX_NAME,
    Lease,
    LeaseBusyError,
    LeaseLostError,
    LeaseTiming,
    define_table,
    process_gone,
    worker_id,
)
from botrt.storage._upsert import build_upsert

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from botrt.plugin import Clock
    from botrt.storage._storage import Storage

__all__ = [
    "MAX_NAME",
    "Lease",
    "LeaseBusyError",
    "LeaseLostError",
    "LeaseTiming",
    "Leases",
    "define_table",
    "process_gone",
    "worker_id",
]


class Leases(LeaseHolding):
    """The leases of one `Storage`, timed by the host's `clock`.

    Cheap to make (no database access); one per user is fine.

    Attributes:
        clock: what expiry and renewal are measured on.
        timing: the time to live (and standby period) when a call names none:
            `timing` if given, else the storage's `lease_timing`.

    `hold` is `LeaseHolding`'s, a base class.
    """

    def __init__(self, storage: Storage, clock: Clock, timing: LeaseTiming | None = None) -> None:
        """Use `storage`'s ``botrt_lease`` table and `clock` for expiry. Raises nothing."""
        self._storage = storage
        self._table = storage.core.lease
        self.clock = clock
        self.timing = timing if timing is not None else storage.lease_timing

    @staticmethod
    def new_owner() -> str:
        """A new owner id, ``host:pid:random`` (`worker_id`): one per user of leases.

        Raises nothing.
        """
        return worker_id()

    def _now(self) -> float:
        return self.clock.now().timestamp()

    async def acquire(self, name: str, *, owner: str, ttl: float | None = None) -> Lease | None:
        """Take lease `name` for `owner` for `ttl` seconds if nobody else holds it alive.

        `ttl` defaults to ``timing.ttl``.

        Returns the lease, or None while another owner's lease has not expired.

        :raises StorageError: if the database cannot be reached.
        """
        t = self._table
        now = self._now()
        ttl = self.timing.ttl if ttl is None else ttl
        with anyio.CancelScope(shield=True), _failed_midway(name):  # outcome known once started
            async with self._storage.transaction(write=True) as conn:
                row = {"name": name, "owner": "", "epoch": 0, "expires_at": 0.0}
                await conn.execute(build_upsert(conn.dialect.name, t, [row], ["name"], ()), [row])
                taken = await conn.execute(
                    update(t)
                    .where(t.c.name == name, (t.c.owner == owner) | (t.c.expires_at <= now))
                    .values(
                        owner=owner,
                        epoch=case((t.c.owner == owner, t.c.epoch), else_=t.c.epoch + 1),
                        expires_at=now + ttl,
                    )
                )
                if taken.rowcount != 1:
                    holder = await self._read(conn, name)
                    if holder is None or not process_gone(holder.owner):
                        return None
                    # Its process died on this very machine: no need to wait for the expiry.
                    taken = await conn.execute(
                        update(t)
                        .where(t.c.name == name, t.c.owner == holder.owner)
                        .where(t.c.epoch == holder.epoch)
                        .values(owner=owner, epoch=t.c.epoch + 1, expires_at=now + ttl)
                    )
                    if taken.rowcount != 1:
                        return None
                return await self._read(conn, name)

    async def renew(self, lease: Lease, *, ttl: float | None = None) -> Lease:
        """Extend `lease` to `ttl` seconds from now (``timing.ttl``); returns it as renewed.

        :raises LeaseLostError: if another owner took it over (or it was released).
        :raises StorageError: if the database cannot be reached.
        """
        t = self._table
        expires_at = self._now() + (self.timing.ttl if ttl is None else ttl)
        with anyio.CancelScope(shield=True), _failed_midway(lease.name):
            async with self._storage.transaction(write=True) as conn:
                result = await conn.execute(
                    update(t)
                    .where(
                        t.c.name == lease.name, t.c.owner == lease.owner, t.c.epoch == lease.epoch
                    )
                    .values(expires_at=expires_at)
                )
                if result.rowcount != 1:
                    holder = await self._read(conn, lease.name)
                    raise LeaseLostError(lease, holder if holder and holder.owner else None)
        return Lease(lease.name, lease.owner, lease.epoch, expires_at)

    async def release(self, lease: Lease) -> None:
        """Give `lease` back now, if it is still its owner's; nothing if it was lost.

        :raises StorageError: if the database cannot be reached.
        """
        t = self._table
        with anyio.CancelScope(shield=True), _failed_midway(lease.name):
            async with self._storage.transaction(write=True) as conn:
                await conn.execute(
                    update(t)
                    .where(
                        t.c.name == lease.name, t.c.owner == lease.owner, t.c.epoch == lease.epoch
                    )
                    .values(owner="", expires_at=0.0)
                )

    async def holder(self, name: str) -> Lease | None:
        """Lease `name` as held now, or None if it is free, released or expired.

        :raises StorageError: if the database cannot be reached.
        """
        with _failed_midway(name):
            async with self._storage.transaction(write=False) as conn:
                lease = await self._read(conn, name)
        if lease is None or not lease.owner or lease.expires_at <= self._now():
            return None
        return lease

    async def holds(self, conn: AsyncConnection, lease: Lease) -> bool:
        """Within `conn`'s transaction: whether `lease` (its owner and epoch) still holds.

        The fence for a write that only the holder may make: the row is read
        ``FOR SHARE`` (PostgreSQL), so a takeover's update waits for the caller's
        commit and cannot slip in between this check and it; a check that waited
        for a takeover's commit reads the row as that left it. On SQLite the
        caller's write transaction already excludes every other writer. The
        expiry is not looked at: until someone takes it over, the row is the
        holder's. Raises what `conn` raises.
        """
        t = self._table
        row = (
            await conn.execute(
                select(t.c.owner, t.c.epoch)
                .where(t.c.name == lease.name)
                .with_for_update(read=True)
            )
        ).first()
        return row is not None and (str(row[0]), int(row[1])) == (lease.owner, lease.epoch)

    async def _read(self, conn: AsyncConnection, name: str) -> Lease | None:
        t = self._table
        row = (
            await conn.execute(
                select(t.c.name, t.c.owner, t.c.epoch, t.c.expires_at).where(t.c.name == name)
            )
        ).first()
        if row is None:
            return None
        return Lease(str(row[0]), str(row[1]), int(row[2]), float(row[3]))


@contextmanager
def _failed_midway(name: str) -> Iterator[None]:
    # A connection lost in the middle of a statement (the database restarting) is a
    # driver error, not the StorageError a caller that retries expects.
    try:
        yield
    except DBAPIError as exc:
        raise StorageError(
            f"lease {name!r}: the database failed in the middle of a statement ({exc.orig}); "
            "retry once it is reachable"
        ) from exc
