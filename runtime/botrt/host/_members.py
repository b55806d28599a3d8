"""The bots' members: syncing the platforms' member lists, and the platform's admin check.

`MemberSync` works from what it is given (the member sources the platforms
registered, the `Members` store once storage is open, the ``botrt_is_admin``
hook, the storage and the host's clock), never the `Host`.

With storage, each bot's periodic sync runs in one process at a time: the one
holding the lease ``members:<bot>`` (several workers of a cluster, or two
processes on one database). The others stand by, waiting on the host's clock
for the lease's expiry; when the holder dies its lease runs out (within
``[cluster] failover`` seconds in a cluster: `Storage.lease_timing`) and a
standby takes over, syncing at once. A stop releases the lease, so a standby
takes over at its next try.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import anyio

from botrt.adapter import Event, MemberSource
from botrt.plugin import Clock, Members
from botrt.plugin._internal import SystemClock
from botrt.storage import StorageError
from botrt.storage._internal import LeaseBusyError, LeaseLostError, Leases, worker_id

if TYPE_CHECKING:
    from botrt.storage import Storage

log = logging.getLogger("botrt.host")


class MemberSync:
    """Keeps each bot's stored member list in step with its platform.

    `sources` are the platforms' member sources by bot name; `members` gives
    the store (None without storage); `ask_hook` calls ``botrt_is_admin``
    for an event and returns its answer (None, a bool, or an awaitable);
    `storage` gives the storage whose leases share the syncs out (None: no
    leases), `clock` the host's clock.

    Attributes:
        owner: who this process is in the ``members:<bot>`` leases.
    """

    def __init__(
        self,
        sources: Mapping[str, MemberSource],
        members: Callable[[], Members | None],
        ask_hook: Callable[[Event], object],
        *,
        storage: Callable[[], Storage | None] = lambda: None,
        clock: Callable[[], Clock] = SystemClock,
    ) -> None:
        self._sources = sources
        self._members = members
        self._ask_hook = ask_hook
        self._storage = storage
        self._clock = clock
        self.owner = worker_id()

    async def is_admin(self, event: Event) -> bool:
        """Whether the platform says `event`'s sender is an admin: the hook, else a manager."""
        answer = self._ask_hook(event)
        if inspect.isawaitable(answer):
            answer = await answer
        if answer is not None:
            return bool(answer)
        members = self._members()
        user_id = getattr(event, "user_id", None)
        if members is None or user_id is None:
            return False
        return await members.is_manager(event.bot, user_id)

    async def sync(self) -> None:
        """Fetch every bot's member list from its platform and store it."""
        for bot, source in list(self._sources.items()):
            await self._sync_one(bot, source)

    async def _sync_one(self, bot: str, source: MemberSource) -> None:
        members = self._members()
        if members is None:
            return
        try:
            infos = await source.fetch()
            # A write cut by cancellation (shutdown) would leave the connection
            # half-closed; it is short, so let it finish.
            with anyio.CancelScope(shield=True):
                count = await members.sync(bot, infos)
        except Exception as exc:
            log.warning("members of %s not synced (kept the stored list): %s", bot, exc)
            return
        log.info("members of %s synced: %d", bot, count)

    async def run(self, interval: float) -> None:
        """Sync now and then every `interval` seconds (the host's clock), until cancelled.

        With storage, each bot's syncs run here only while this process holds
        the bot's ``members:<bot>`` lease; otherwise it stands by to take over.
        """
        storage = self._storage()
        if storage is None:
            while True:
                await self.sync()
                await self._sleep(interval)
        leases = Leases(storage, self._clock())
        async with anyio.create_task_group() as tg:
            for bot, source in list(self._sources.items()):
                tg.start_soon(self._lead, leases, bot, source, interval)

    async def _lead(self, leases: Leases, bot: str, source: MemberSource, interval: float) -> None:
        """Sync `bot` while holding its lease; stand by while another process does."""
        name = f"members:{bot}"
        told = ""
        while True:
            retry = leases.clock.now().timestamp() + leases.timing.standby_every
            try:
                async with leases.hold(name, owner=self.owner):
                    log.info("members of %s: synced by this process (%s)", bot, self.owner)
                    told = ""
                    while True:
                        await self._sync_one(bot, source)
                        await self._sleep(interval)
            except LeaseBusyError as busy:
                if busy.holder.owner and busy.holder.owner != told:
                    told = busy.holder.owner
                    log.info("members of %s: synced by %s; standing by", bot, told)
                if busy.holder.owner:
                    retry = busy.holder.expires_at
            except LeaseLostError as lost:
                log.warning("members of %s: %s", bot, lost)
                continue
            except StorageError as exc:
                log.warning("members of %s: leases unreachable (%s); retrying", bot, exc)
            await self._clock().sleep_until(dt.datetime.fromtimestamp(retry, dt.UTC), anyio.Event())

    async def _sleep(self, seconds: float) -> None:
        clock = self._clock()
        await clock.sleep_until(clock.now() + dt.timedelta(seconds=seconds), anyio.Event())
