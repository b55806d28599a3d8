"""What leases are made of: the row, its owner ids, its timing and its errors.

`botrt.storage._lease` (`Leases`) works with them; they are apart so that
each module keeps one job.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

from sqlalchemy import Column, Float, Integer, MetaData, String, Table

from botrt.storage._errors import StorageError

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


# Shares of `[cluster] failover`: a dead holder's lease runs out after TTL_SHARE of
# it. A standby that knows the expiry looks again right then (Long Poll, jobs); one
# that does not (the lease was released, or the database was away) looks every
# STANDBY_SHARE; a partition is taken at its new owner's next round (every
# 1 / RENEWALS_PER_TTL of the time to live). So a takeover takes about 0.4 of
# `failover`, at most 0.5 of it, plus a round trip to the database: the rest is
# margin for a machine too busy to act on time.
TTL_SHARE = 0.4
STANDBY_SHARE = 0.1
RENEWALS_PER_TTL = 4
"""A holder renews this many times per time to live: a renewal or two late does not lose it."""


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """How long a lease lives unrenewed, and how often its holder and its standbys act.

    Attributes:
        ttl: seconds a lease lives unrenewed: how long a dead holder's work waits.
        standby_every: seconds between a standby's tries when it has no expiry to
            wait for (the lease was released, or the database was away).
        cluster: other workers share the work (``[cluster] enabled``): work one of
            them starts while this one runs is worth watching for, to take it over.
    """

    ttl: float = 30.0
    standby_every: float = 10.0
    cluster: bool = False

    @property
    def renew_every(self) -> float:
        """Seconds between a holder's renewals: a quarter of `ttl`. Raises nothing."""
        return self.ttl / RENEWALS_PER_TTL

    @classmethod
    def for_failover(cls, failover: float) -> LeaseTiming:
        """The timing with which a dead holder's work is taken over within `failover` s.

        Raises nothing.
        """
        return cls(ttl=failover * TTL_SHARE, standby_every=failover * STANDBY_SHARE, cluster=True)

    @classmethod
    def for_cluster(cls, enabled: bool, failover: float) -> LeaseTiming:
        """`for_failover` for a cluster's worker (`enabled`), else the default. Raises nothing."""
        return cls.for_failover(failover) if enabled else cls()
