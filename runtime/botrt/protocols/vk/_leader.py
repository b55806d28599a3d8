"""Long Poll leadership in a cluster: one worker at a time polls each bot.

VK gives a bot's Long Poll updates to whoever asks, so two workers polling one
bot would both get every update. With ``[cluster] enabled`` each bot's poller
holds a lease (a row in the shared storage, with an owner, an expiry and an
epoch that grows each time the lease is taken): `Leadership.run` waits until it
can take the lease, leads while it keeps renewing it, and goes back to
standing by when it is lost.

Fencing: a leader that was paused (a long GC, a frozen VM, a cut network) may
not know yet that another worker took over. It must neither store a `ts` nor
hand updates to the host:

- every batch it records goes through `Leadership.fence`, which checks in the
  batch's own transaction that its epoch is still the lease's (the store locks
  the lease row, so a takeover either happened before the check, and the batch
  is refused, or waits until the batch is committed);
- before an update goes to the host, `Leadership.check` asks whether the lease
  is still valid by this worker's own clock (it renews well before expiry).

A graceful stop keeps renewing until the stop has drained what the leader
handed to the host and written its "handled" marks (`step_down`, from the
adapter's close), then releases the lease at once: the next worker starts from
the stored `ts` with nothing left to replay, and nothing is handled twice.

`LeaseStore` is what leadership needs of the storage's leases; `MemoryLeases`
is one in memory, for tests and for reasoning about the protocol (both, and
`Tenure`, live in `botrt.protocols.vk._lease_store`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio

# Their home is `_lease_store`; imported from here too.
from botrt.protocols.vk._lease_store import LeaseStore as LeaseStore
from botrt.protocols.vk._lease_store import MemoryLeases as MemoryLeases
from botrt.protocols.vk._lease_store import Tenure as Tenure

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from botrt.protocols.vk._timer import Timer

log = logging.getLogger("botrt.cluster")

EXPIRY_MARGIN = 0.01
"""Seconds a standby waits past a lease's expiry: it looks once the lease has run out."""


class LeadershipLost(Exception):
    """This worker no longer leads: its lease expired or another worker took it.

    Raised into what the leader was doing (recording a batch, handing an update
    to the host), which stops; the worker stands by again. Outside botrt's
    exception tree: `Leadership.run` catches it, no caller ever sees it.
    """


class Leadership:
    """One worker's claim to lead one bot's Long Poll.

    Attributes:
        name: the lease's name (``longpoll:<bot>``).
        owner: this worker's id (``[cluster] worker_id``).
        ttl, renew_every, standby_every: seconds, from `failover`
            (`LeaseTiming.for_failover` in `botrt.storage`, shared by every lease).
        tenure: the holding while this worker leads, else None.
    """

    def __init__(
        self,
        leases: LeaseStore,
        name: str,
        owner: str,
        *,
        failover: float,
        timer: Timer,
    ) -> None:
        """Prepare; nothing is taken until `run`. Raises nothing."""
        # Here, not at the top: only a cluster worker leads, and needs the storage.
        from botrt.storage._internal import LeaseTiming

        timing = LeaseTiming.for_failover(failover)
        self.leases = leases
        self.name = name
        self.owner = owner
        self.ttl = timing.ttl
        self.renew_every = timing.renew_every
        self.standby_every = timing.standby_every
        self.timer = timer
        self.tenure: Tenure | None = None
        self._deadline = 0.0  # this worker's clock: the lease is surely its own before
        self._lost = anyio.Event()
        self._keeper: asyncio.Task[None] | None = None
        self._shown_holder: str | None = ""  # "" = nothing logged yet

    def leads(self) -> bool:
        """Whether this worker leads now, by its own clock. Raises nothing."""
        return self.tenure is not None and self.timer.now() < self._deadline

    def check(self) -> None:
        """Go on only while leading.

        :raises LeadershipLost: if this worker does not lead (any more).
        """
        if not self.leads():
            raise LeadershipLost(f"worker {self.owner} no longer leads {self.name}")

    async def fence(self, conn: AsyncConnection) -> None:
        """Go on only if the lease is still this holding, in `conn`'s transaction.

        :raises LeadershipLost: if another worker took the lease (or it was freed).
        """
        tenure = self.tenure
        if tenure is None or not await self.leases.holds(conn, tenure):
            self._lost.set()
            raise LeadershipLost(f"worker {self.owner} no longer leads {self.name}")

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Forever: stand by until the lease is taken, then run `lead` while it is held.

        `lead` is cancelled when the lease is lost, and may itself raise
        `LeadershipLost`; either way the worker stands by again. On cancellation
        (a stop) the lease is kept, and renewed, until `step_down`.

        :raises Exception: what `lead` raises, other than `LeadershipLost`.
        """
        while True:
            lost = await self._take()
            try:
                await self._while_held(lead, lost)
            except Exception:
                # `lead` failed: the host restarts the adapter, which stands by anew.
                await self.step_down()
                raise
            await self._stop_keeper()
            tenure, self.tenure = self.tenure, None
            if tenure is not None:
                log.warning(
                    "worker %s no longer leads %s (epoch %d): the lease expired or another "
                    "worker took it; standing by",
                    self.owner,
                    self.name,
                    tenure.epoch,
                )

    @staticmethod
    async def _while_held(lead: Callable[[], Awaitable[None]], lost: anyio.Event) -> None:
        failed: list[Exception] = []
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                await lost.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(watch)
            try:
                await lead()
            except LeadershipLost:
                lost.set()
            except Exception as exc:
                failed.append(exc)  # raised below as itself, not in an exception group
            tg.cancel_scope.cancel()
        if failed:
            raise failed[0]

    async def step_down(self) -> None:
        """Stop renewing and free the lease at once, so another worker takes over now.

        For a stop, once what this leader handed to the host is handled and
        marked. Logs a failure (the lease then runs out within `ttl`).
        """
        await self._stop_keeper()
        tenure, self.tenure = self.tenure, None
        if tenure is None:
            return
        try:
            await self.leases.release(tenure)
        except Exception as exc:
            log.warning(
                "worker %s could not release %s (%s): another worker takes over once it "
                "runs out, within %.1f s",
                self.owner,
                self.name,
                exc,
                self.ttl,
            )
            return
        log.info("worker %s released %s: another worker takes over", self.owner, self.name)

    async def _take(self) -> anyio.Event:
        while True:
            started = self.timer.now()
            try:
                tenure = await self.leases.acquire(self.name, self.owner, self.ttl)
            except Exception as exc:
                log.warning("worker %s cannot reach the leases (%s); retrying", self.owner, exc)
                tenure = None
                wait = self.standby_every
            else:
                if tenure is None:
                    wait = await self._show_holder()
            if tenure is not None:
                self.tenure = tenure
                self._deadline = started + self.ttl
                self._lost = lost = anyio.Event()
                self._shown_holder = ""
                self._keeper = asyncio.get_running_loop().create_task(self._keep(tenure, lost))
                log.info("worker %s leads %s (epoch %d)", self.owner, self.name, tenure.epoch)
                return lost
            await self.timer.sleep(wait)

    async def _show_holder(self) -> float:
        # Returns how long to stand by: until the holder's lease runs out (a dead
        # holder is replaced then, not a look later), and no longer than
        # `standby_every` (a released lease is taken soon).
        wait = self.standby_every
        try:
            holding = await self.leases.holding(self.name)
        except Exception:
            return wait
        holder = None if holding is None else holding[0]
        if holding is not None:
            wait = min(wait, holding[1] + EXPIRY_MARGIN)
        if holder != self._shown_holder and holder is not None:
            log.info("worker %s stands by for %s, led by %s", self.owner, self.name, holder)
        self._shown_holder = holder
        return wait

    async def _keep(self, tenure: Tenure, lost: anyio.Event) -> None:
        # A plain task, not in `run`'s task group: after a stop cancels `run`, the
        # lease must stay this worker's while the host drains (until `step_down`).
        while True:
            await self.timer.sleep(
                min(self.renew_every, max(0.0, self._deadline - self.timer.now()))
            )
            if self.timer.now() >= self._deadline:
                lost.set()
                return
            started = self.timer.now()
            try:
                # A renewal stuck on a dead connection must not outlive the lease.
                with anyio.fail_after(self.ttl):
                    kept = await self.leases.renew(tenure, self.ttl)
            except Exception as exc:
                log.warning("worker %s could not renew %s (%s)", self.owner, self.name, exc)
                continue
            if not kept:
                lost.set()
                return
            self._deadline = started + self.ttl

    async def _stop_keeper(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is None:
            return
        keeper.cancel()
        # `wait`, not `await keeper`: the keeper's cancellation is not this task's.
        await asyncio.wait([keeper])
