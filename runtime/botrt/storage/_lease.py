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
  renew every third of the time to live while the block runs, release at the end;
  if a renewal finds the lease lost, the block is cancelled and `LeaseLostError` raised.

Usage::

    leases = Leases(storage, clock)
    lease = await leases.acquire("broadcast:job:3", owner=worker_id, ttl=30.0)
    if lease is None:
        ...  # alive elsewhere: leave it
    lease = await leases.renew(lease, ttl=30.0)  # raises LeaseLostError if taken over
    await leases.release(lease)

    async with leases.hold("schedule:notes:daily", owner=worker_id, ttl=30.0) as lease:
        ...  # renewed while this runs; cancelled if lost

A dead process's lease is taken over once it expires: `ttl` is how long the work
waits after a crash, and renewals run at a third of it, so a busy process has two
chances to renew before it loses the lease. A process on the same host takes it over
at once if the owner id names a process that has exited (`worker_id` makes such
ids, ``host:pid:random``): a restart after a crash does not wait for the expiry.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, case, select, update

from botrt.storage._errors import StorageError
from botrt.storage._upsert import build_upsert

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from botrt.plugin import Clock
    from botrt.storage._storage import Storage

log = logging.getLogger("botrt.storage.lease")

MAX_NAME = 300
"""The longest lease name, in characters (the column is ``VARCHAR(300)``)."""


def worker_id() -> str:
    """A new owner id: ``host:pid:random``, unique to the caller, readable in logs.

    Owners named this way (or ``host:pid``) are taken over at once by a process on the
    same host once their process has exited (`process_gone`). Raises nothing.
    """
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def process_gone(owner: str) -> bool:
    """Whether `owner` (``host:pid[:...]``) names a process of this host that has exited.

    False when it cannot tell: another host, another format, or a process id in use
    (perhaps reused by another program). Raises nothing.
    """
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid() or pid <= 1:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, owned by another user
        return False
    return False


def define_table(metadata: MetaData) -> Table:
    """``botrt_lease``: one row per lease name (no database access). Raises nothing."""
    return Table(
        "botrt_lease",
        metadata,
        Column("name", String(MAX_NAME), primary_key=True),
        # "" when released (or never held).
        Column("owner", String(200), nullable=False),
        Column("epoch", Integer, nullable=False),
        # Seconds since the epoch, by the host's clock.
        Column("expires_at", Float, nullable=False),
    )


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease as its owner last wrote it.

    Attributes:
        name: what the lease is for (``"broadcast:job:3"``).
        owner: who holds it (a worker id: host name and process id, say).
        epoch: the fencing token; it grows by one at every change of owner.
        expires_at: when it expires unless renewed, in seconds since the epoch.
    """

    name: str
    owner: str
    epoch: int
    expires_at: float


class LeaseLostError(StorageError):
    """A renewal found that the lease expired and another owner took it over.

    Attributes:
        lease: the lease as its former owner held it.
        holder: the lease as it is now (None if it is released).
    """

    def __init__(self, lease: Lease, holder: Lease | None) -> None:
        self.lease = lease
        self.holder = holder
        now = "released" if holder is None else f"held by {holder.owner!r} (epoch {holder.epoch})"
        super().__init__(
            f"lease {lease.name!r} of {lease.owner!r} (epoch {lease.epoch}) was lost: it "
            f"expired before it was renewed and is now {now}; stop its work, it is done "
            "elsewhere"
        )


class LeaseBusyError(StorageError):
    """`Leases.hold` found the lease alive with another owner.

    Attributes:
        holder: the lease as its owner holds it.
    """

    def __init__(self, holder: Lease) -> None:
        self.holder = holder
        super().__init__(
            f"lease {holder.name!r} is held by {holder.owner!r} until its expiry "
            f"({holder.expires_at:.0f}): its work runs there"
        )


class Leases:
    """The leases of one `Storage`, timed by the host's `clock`.

    Cheap to make (no database access); one per user is fine.
    """

    def __init__(self, storage: Storage, clock: Clock) -> None:
        """Use `storage`'s ``botrt_lease`` table and `clock` for expiry. Raises nothing."""
        self._storage = storage
        self._table = storage.core.lease
        self.clock = clock

    @staticmethod
    def new_owner() -> str:
        """A new owner id, ``host:pid:random`` (`worker_id`): one per user of leases.

        Raises nothing.
        """
        return worker_id()

    def _now(self) -> float:
        return self.clock.now().timestamp()

    async def acquire(self, name: str, *, owner: str, ttl: float) -> Lease | None:
        """Take lease `name` for `owner` for `ttl` seconds if nobody else holds it alive.

        Returns the lease, or None while another owner's lease has not expired.

        :raises StorageError: if the database cannot be reached.
        """
        t = self._table
        now = self._now()
        with anyio.CancelScope(shield=True):  # its outcome must be known once started
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

    async def renew(self, lease: Lease, *, ttl: float) -> Lease:
        """Extend `lease` to `ttl` seconds from now; returns it as renewed.

        :raises LeaseLostError: if another owner took it over (or it was released).
        :raises StorageError: if the database cannot be reached.
        """
        t = self._table
        expires_at = self._now() + ttl
        with anyio.CancelScope(shield=True):
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
        with anyio.CancelScope(shield=True):
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
        async with self._storage.transaction(write=False) as conn:
            lease = await self._read(conn, name)
        if lease is None or not lease.owner or lease.expires_at <= self._now():
            return None
        return lease

    @asynccontextmanager
    async def hold(self, name: str, *, owner: str, ttl: float) -> AsyncIterator[Lease]:
        """Hold lease `name` while the block runs: renewed every ``ttl / 3``, released after.

        The lease yielded is the one acquired (its `epoch` is the fencing token).

        :raises LeaseBusyError: if another owner holds it alive (the block does not run).
        :raises LeaseLostError: if a renewal found it taken over; the block was cancelled.
        :raises StorageError: if the database cannot be reached.
        """
        lease = await self.acquire(name, owner=owner, ttl=ttl)
        if lease is None:
            holder = await self.holder(name)
            if holder is None:  # it expired between the two reads: try once more
                lease = await self.acquire(name, owner=owner, ttl=ttl)
            if lease is None:
                raise LeaseBusyError(holder or Lease(name, "", 0, 0.0))
        lost: list[LeaseLostError] = []
        body = anyio.CancelScope()
        current = [lease]

        async def keep() -> None:
            wake = anyio.Event()  # never set: the renewer is ended by cancellation
            moment = current[0].expires_at - ttl * 2 / 3
            while True:
                await self.clock.sleep_until(dt.datetime.fromtimestamp(moment, dt.UTC), wake)
                try:
                    current[0] = await self.renew(current[0], ttl=ttl)
                except LeaseLostError as exc:
                    lost.append(exc)
                    body.cancel()
                    return
                except StorageError as exc:
                    # The database is away for a moment: try again soon; if it stays
                    # away past the expiry, the next renewal finds the lease lost.
                    log.warning("lease %r not renewed, retrying: %s", name, exc)
                    moment = self._now() + ttl / 6
                    continue
                moment = current[0].expires_at - ttl * 2 / 3

        async with anyio.create_task_group() as tg:
            tg.start_soon(keep)
            try:
                with body:
                    yield lease
            finally:
                tg.cancel_scope.cancel()
                if not lost:
                    await self.release(current[0])
        if lost:
            raise lost[0]

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
