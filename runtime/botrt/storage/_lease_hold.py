"""Holding a lease around a block: `Leases.hold`, renewed while the block runs.

`LeaseHolding` is mixed into `Leases` (`botrt.storage._lease`), whose `acquire`,
`renew`, `release` and `holder` it uses.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio

from botrt.storage._errors import StorageError
from botrt.storage._lease_model import Lease, LeaseBusyError, LeaseLostError

if TYPE_CHECKING:
    from botrt.plugin import Clock
    from botrt.storage._lease_model import LeaseTiming

log = logging.getLogger("botrt.storage.lease")


class LeaseHolding:
    """`Leases.hold` and its renewer (see the module)."""

    # Set by `Leases`.
    clock: Clock
    timing: LeaseTiming
    acquire: Callable[..., Awaitable[Lease | None]]
    renew: Callable[..., Awaitable[Lease]]
    release: Callable[[Lease], Awaitable[None]]
    holder: Callable[[str], Awaitable[Lease | None]]
    _now: Callable[[], float]

    @asynccontextmanager
    async def hold(
        self, name: str, *, owner: str, ttl: float | None = None
    ) -> AsyncIterator[Lease]:
        """Hold lease `name` while the block runs: renewed every ``ttl / 3``, released after.

        The lease yielded is the one acquired (its `epoch` is the fencing token).
        `ttl` defaults to ``timing.ttl``.

        :raises LeaseBusyError: if another owner holds it alive (the block does not run).
        :raises LeaseLostError: if a renewal found it taken over; the block was cancelled.
        :raises StorageError: if the database cannot be reached.
        """
        ttl = self.timing.ttl if ttl is None else ttl
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
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._keep, name, ttl, current, lost, body)
            try:
                with body:
                    yield lease
            finally:
                tg.cancel_scope.cancel()
                if not lost:
                    await self.release(current[0])
        if lost:
            raise lost[0]

    async def _keep(
        self,
        name: str,
        ttl: float,
        current: list[Lease],
        lost: list[LeaseLostError],
        body: anyio.CancelScope,
    ) -> None:
        # `hold`'s renewer: `current[0]` is the lease as last renewed; a loss is put
        # in `lost` and cancels the block.
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
