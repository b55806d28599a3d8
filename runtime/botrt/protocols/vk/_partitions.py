"""Which partitions of a bot's conversations this cluster worker owns.

Each bot's conversations fall into `PARTITIONS` partitions (`botrt.storage._partitions`:
a hash of the bot and the peer). A partition is owned through a lease named
``route:<bot>:p<n>`` (`botrt.storage.Leases`: a row with an owner, an expiry and an
epoch), so one worker at a time handles a conversation, whichever worker VK's
request reached. Each worker also holds ``route:<bot>:w:<worker id>``, which tells
the others it is alive.

`Assignment.tick`, run every quarter of the lease's time to live, does one round:

1. renew every lease this worker holds for the bot, in one statement; a partition
   not renewed was lost (it expired and another worker took it);
2. count the live workers (unexpired ``w:`` leases) and the share each may own,
   ``ceil(PARTITIONS / live workers)``; a new count is told to `on_live` (the bot's
   rate limiter takes its share of the bot's limit: VK counts per token);
3. below its share, take partitions that are free, released or expired; above it,
   release partitions that are idle (nothing handed to the host and not yet
   handled: a conversation in the middle of an ``ask`` keeps its partition).

So a worker that joins gets partitions as the others give their idle ones back; a
worker that stops releases everything at once (`release_all`); a worker that dies
stops renewing and its partitions are taken within the lease's time to live plus
one round. `owns` answers by this worker's own clock, with a margin (the lease is
surely its own before ``last renewal + ttl``), so a paused worker stops handing
updates over before another can take its partitions.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from botrt.storage._internal import PARTITIONS, LeaseTiming, renew_all, route_leases

if TYPE_CHECKING:
    from botrt.plugin import Clock
    from botrt.storage import Leases, Storage

log = logging.getLogger("botrt.cluster")


class Assignment:
    """One worker's partitions of one bot.

    Attributes:
        bot: the bot's name.
        owner: this worker's id (``[cluster] worker_id``).
        ttl: the leases' time to live, seconds; `every` is the time between rounds.
        owned: partition -> epoch of the lease, as of the last round.
        live: how many workers were alive at the last round (this one included).
        on_live: called with `live` at a round that counted another number than the
            last (the bot's rate limiter follows it: its share of the bot's limit).
    """

    def __init__(
        self,
        storage: Storage,
        leases: Leases,
        clock: Clock,
        bot: str,
        owner: str,
        *,
        failover: float,
        busy: Callable[[int], bool],
        partitions: int = PARTITIONS,
    ) -> None:
        """Prepare; nothing is taken until `tick`. `busy(p)`: whether partition p has work in
        hand (it is not released then). Raises nothing."""
        self._storage = storage
        self._leases = leases
        self._clock = clock
        self.bot = bot
        self.owner = owner
        # The timing every lease of a cluster uses: a dead owner's partition runs
        # out after `ttl` and is taken at the next round, a quarter of `ttl` later at most.
        timing = LeaseTiming.for_failover(failover)
        self.ttl = timing.ttl
        self.every = timing.renew_every
        self._busy = busy
        self.partitions = partitions
        self.prefix = f"route:{bot}:"
        self._member = f"{self.prefix}w:{owner}"
        self.owned: dict[int, int] = {}
        self.live = 1
        self.on_live: Callable[[int], None] | None = None
        self._until = 0.0  # by this worker's clock: the leases renewed are surely its own
        # Each worker tries the free partitions in its own order, so workers that
        # start together rarely race for the same ones.
        self._order = sorted(
            range(partitions),
            key=lambda p: hashlib.blake2b(f"{owner}/{p}".encode(), digest_size=8).digest(),
        )

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def part_name(self, part: int) -> str:
        """The lease name of partition `part`. Raises nothing."""
        return f"{self.prefix}p{part}"

    def owns(self, part: int) -> bool:
        """Whether partition `part` is surely this worker's now, by its own clock."""
        return part in self.owned and self._now() < self._until

    def mine(self) -> list[int]:
        """The partitions this worker surely owns now (empty once its leases may have run out)."""
        return sorted(self.owned) if self._now() < self._until else []

    async def tick(self) -> None:
        """One round: renew, count the live workers, take or release partitions.

        :raises StorageError: if the storage cannot be reached (the next round retries;
            leases not renewed run out after `ttl`).
        """
        started = self._now()
        expires = started + self.ttl
        renewed = await renew_all(self._storage, self.prefix, self.owner, expires)
        if self._member not in renewed:
            lease = await self._leases.acquire(self._member, owner=self.owner, ttl=self.ttl)
            if lease is None:
                log.warning("worker id %s is in use by another live worker", self.owner)
        # Every partition lease renewed is this worker's, even one it did not know of
        # (a restart under the same worker id resumes its partitions at once).
        kept = {
            int(name[len(self.prefix) + 1 :]): epoch
            for name, epoch in renewed.items()
            if name.startswith(f"{self.prefix}p")
        }
        lost = set(self.owned) - set(kept)
        if lost:
            log.warning(
                "worker %s lost partitions %s of bot %s (their leases ran out)",
                self.owner,
                _span(lost),
                self.bot,
            )
        self.owned = kept
        self._until = started + self.ttl
        rows = await route_leases(self._storage, self.prefix)
        now = self._now()
        members = {o for n, o, _, at in rows if n.startswith(f"{self.prefix}w:") and at > now and o}
        members.add(self.owner)
        if len(members) != self.live:
            self.live = len(members)
            if self.on_live is not None:
                self.on_live(self.live)
        share = math.ceil(self.partitions / self.live)
        held = {n for n, o, _, at in rows if o and at > now}
        if len(self.owned) < share:
            await self._take(share, held)
        elif len(self.owned) > share:
            await self._give_back(len(self.owned) - share)

    async def _take(self, share: int, held: Collection[str]) -> None:
        taken: list[int] = []
        for part in self._order:
            if len(self.owned) >= share:
                break
            name = self.part_name(part)
            if part in self.owned or name in held:
                continue
            lease = await self._leases.acquire(name, owner=self.owner, ttl=self.ttl)
            if lease is not None:
                self.owned[part] = lease.epoch
                taken.append(part)
        if taken:
            log.info(
                "worker %s owns partitions %s of bot %s (%d of %d, %d worker(s))",
                self.owner,
                _span(taken),
                self.bot,
                len(self.owned),
                self.partitions,
                self.live,
            )

    async def _give_back(self, excess: int) -> None:
        from botrt.storage import Lease

        given: list[int] = []
        for part in sorted(self.owned, reverse=True):
            if len(given) >= excess:
                break
            if self._busy(part):
                continue
            epoch = self.owned.pop(part)
            await self._leases.release(Lease(self.part_name(part), self.owner, epoch, 0.0))
            given.append(part)
        if given:
            log.info(
                "worker %s gave back partitions %s of bot %s to a joining worker",
                self.owner,
                _span(given),
                self.bot,
            )

    async def release_all(self) -> None:
        """Give back every partition and the worker's own lease now (a graceful stop).

        :raises StorageError: if the storage cannot be reached (they run out after `ttl`).
        """
        from botrt.storage import Lease

        owned, self.owned = self.owned, {}
        self._until = 0.0
        for part, epoch in owned.items():
            await self._leases.release(Lease(self.part_name(part), self.owner, epoch, 0.0))
        member = await self._leases.holder(self._member)
        if member is not None and member.owner == self.owner:
            await self._leases.release(member)


def _span(parts: Collection[int]) -> str:
    return ",".join(str(p) for p in sorted(parts))
