"""A Long Poll lease's holdings and the store they live in.

`Tenure` is one holding of a lease (its owner and fencing epoch); `LeaseStore`
is what `botrt.protocols.vk._leader.Leadership` needs of the storage's leases;
`MemoryLeases` is one in memory, for tests and for reasoning about the protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True, slots=True)
class Tenure:
    """One holding of a lease: `owner` holds `name` at `epoch` (fencing token)."""

    name: str
    owner: str
    epoch: int


class LeaseStore(Protocol):
    """What leadership needs of the storage's leases (one row per lease name).

    Expiry is judged by the store's own clock (the database's, for a shared
    store), so workers' clocks need not agree.
    """

    async def acquire(self, name: str, owner: str, ttl: float) -> Tenure | None:
        """Take `name` for `owner` for `ttl` seconds; None if another owner holds it unexpired.

        Taking a lease that was free, released or expired gives an epoch greater
        than any before; taking one `owner` already holds extends it, same epoch.
        """
        ...

    async def renew(self, tenure: Tenure, ttl: float) -> bool:
        """Extend to `ttl` seconds from now if still held at `tenure`'s epoch; False if lost."""
        ...

    async def release(self, tenure: Tenure) -> None:
        """Free the lease at once if still held at `tenure`'s epoch; else do nothing."""
        ...

    async def holds(self, conn: AsyncConnection, tenure: Tenure) -> bool:
        """Within `conn`'s transaction: whether `tenure` is still the lease's holding.

        Locks the lease row until that transaction ends (``FOR SHARE``), so a
        takeover cannot commit between this check and the caller's commit.
        """
        ...

    async def holder(self, name: str) -> str | None:
        """Who holds `name` unexpired now (for the logs); None if nobody."""
        ...

    async def holding(self, name: str) -> tuple[str, float] | None:
        """Who holds `name` unexpired now and for how many more seconds; None if nobody."""
        ...


class MemoryLeases:
    """A `LeaseStore` in memory: leases of the workers of one process (tests).

    `now` is the store's clock, in seconds.
    """

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        # name -> (owner, epoch, expires at); owner "" once released
        self.rows: dict[str, tuple[str, int, float]] = {}

    async def acquire(self, name: str, owner: str, ttl: float) -> Tenure | None:
        """As `LeaseStore.acquire`."""
        now = self.now()
        row = self.rows.get(name)
        if row is not None and row[0] != owner and row[2] > now:
            return None
        epoch = 1 if row is None else row[1] if row[0] == owner else row[1] + 1
        self.rows[name] = (owner, epoch, now + ttl)
        return Tenure(name, owner, epoch)

    async def renew(self, tenure: Tenure, ttl: float) -> bool:
        """As `LeaseStore.renew`."""
        if not self._current(tenure):
            return False
        self.rows[tenure.name] = (tenure.owner, tenure.epoch, self.now() + ttl)
        return True

    async def release(self, tenure: Tenure) -> None:
        """As `LeaseStore.release`."""
        if self._current(tenure):
            self.rows[tenure.name] = ("", tenure.epoch, 0.0)  # "": nobody; the epoch stays

    async def holds(self, conn: AsyncConnection, tenure: Tenure) -> bool:
        """As `LeaseStore.holds`; `conn` is not needed in memory."""
        return self._current(tenure)

    async def holder(self, name: str) -> str | None:
        """As `LeaseStore.holder`."""
        row = self.rows.get(name)
        return row[0] if row is not None and row[0] and row[2] > self.now() else None

    async def holding(self, name: str) -> tuple[str, float] | None:
        """As `LeaseStore.holding`."""
        row = self.rows.get(name)
        now = self.now()
        return (row[0], row[2] - now) if row is not None and row[0] and row[2] > now else None

    def _current(self, tenure: Tenure) -> bool:
        row = self.rows.get(tenure.name)
        return row is not None and row[:2] == (tenure.owner, tenure.epoch)
