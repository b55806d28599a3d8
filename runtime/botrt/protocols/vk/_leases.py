"""`StorageLeases`: the `LeaseStore` leadership uses, on the storage's own leases.

The leases themselves (the ``botrt_lease`` rows, acquire, renew, release) are
`botrt.storage.Leases`; this adds what Long Poll leadership needs on top: a
renewal that answers "lost" rather than raising, and the fence check inside the
caller's transaction (`holds`, which is `Leases.holds`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botrt.protocols.vk._leader import Tenure

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from botrt.plugin import Clock
    from botrt.storage import Lease, Storage


class StorageLeases:
    """A `LeaseStore` on `storage`'s ``botrt_lease`` table, timed by the host's `clock`."""

    def __init__(self, storage: Storage, clock: Clock) -> None:
        """No database access. Raises nothing."""
        # Here, not at the top: only a cluster worker uses leases.
        from botrt.storage import Leases

        self._leases = Leases(storage, clock)
        self._clock = clock

    async def acquire(self, name: str, owner: str, ttl: float) -> Tenure | None:
        """As `LeaseStore.acquire`.

        :raises StorageError: if the database cannot be reached.
        """
        lease = await self._leases.acquire(name, owner=owner, ttl=ttl)
        return None if lease is None else Tenure(lease.name, lease.owner, lease.epoch)

    async def renew(self, tenure: Tenure, ttl: float) -> bool:
        """As `LeaseStore.renew`.

        :raises StorageError: if the database cannot be reached.
        """
        from botrt.storage import LeaseLostError

        try:
            await self._leases.renew(self._lease(tenure), ttl=ttl)
        except LeaseLostError:
            return False
        return True

    async def release(self, tenure: Tenure) -> None:
        """As `LeaseStore.release`.

        :raises StorageError: if the database cannot be reached.
        """
        await self._leases.release(self._lease(tenure))

    async def holds(self, conn: AsyncConnection, tenure: Tenure) -> bool:
        """As `LeaseStore.holds`: `botrt.storage.Leases.holds`, the storage's fence."""
        return await self._leases.holds(conn, self._lease(tenure))

    async def holder(self, name: str) -> str | None:
        """As `LeaseStore.holder`.

        :raises StorageError: if the database cannot be reached.
        """
        lease = await self._leases.holder(name)
        return None if lease is None else lease.owner

    async def holding(self, name: str) -> tuple[str, float] | None:
        """As `LeaseStore.holding`, by the host's clock.

        :raises StorageError: if the database cannot be reached.
        """
        lease = await self._leases.holder(name)
        if lease is None:
            return None
        return lease.owner, lease.expires_at - self._clock.now().timestamp()

    @staticmethod
    def _lease(tenure: Tenure) -> Lease:
        from botrt.storage import Lease

        # The expiry is not read by renew or release: they match owner and epoch.
        return Lease(tenure.name, tenure.owner, tenure.epoch, 0.0)
