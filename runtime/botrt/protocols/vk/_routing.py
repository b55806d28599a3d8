"""The Callback API in a cluster: any worker takes an update, its conversation's owner handles it.

Behind a load balancer, two messages of one user may reach two workers. Handling
each where it arrived would run them at once, out of order, and an ``ask`` waiting
on one worker would never see the answer that reached another. So with
``[cluster] enabled`` a worker that receives an update only records it in the inbox
(before answering ``ok``, as without a cluster) and does not handle it. PostgreSQL
files the row under its conversation's partition (`botrt.storage._partitions`), and
the worker owning that partition (`Assignment`) reads the unhandled rows of its
partitions in the order they were recorded and hands them to the host, whose lanes
take one conversation's events one at a time. Every update of a conversation thus
goes through one worker, and its waiting ``ask`` gets them all.

A worker reads its partitions' rows when PostgreSQL notifies that a row was recorded
in one of them (``LISTEN``: a hint that costs no query, naming the bot and the
partition, so only the owner reads; while it is not listening, it reads whenever it
recorded an update itself), after every round of its leases (partitions it just
took), and every `POLL_SHARE` of ``[cluster] failover`` whatever happens, since a
notification is lost while nobody listens. An update handed to the host is remembered
until its row reads as handled, so it is not handed twice, and its partition is busy
meanwhile (not given back to a joining worker). A worker that dies leaves its rows unhandled: the
worker that takes its partitions after they run out handles them (at least once;
replies keep their `random_id`, so users see each reply once).

Before it hands over the first rows of partitions it did not own at its last read
(it just took them, or took them back), a worker reads the bot's conversation states
again (`VkPlatform.adopt`): the worker that handled those conversations until now
may have set or cleared states this one's memory does not know.

The conversation states are fenced too (`VkPlatform.fence`, `tenure`): a state written
while handling a chat's update holds only while this worker still holds the lease of
the chat's partition at the epoch it had then, so a worker that stalled past
``failover`` cannot overwrite what the partition's new owner wrote. So are the
"handled" marks (`Inbox.done` with the lease): a stale worker's mark is refused, so the
update stays unhandled and the partition's new owner handles it again, its state writes
included, instead of finding it marked by a worker whose writes were refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

import anyio

from botrt.protocols.vk._partitions import Assignment
from botrt.storage._internal import Lease, listen_inbox, pending_rows, prepare_partitions

if TYPE_CHECKING:
    from botrt.adapter import Event, Submit
    from botrt.plugin import Clock
    from botrt.protocols.vk._adapters import VkPlatform
    from botrt.storage import Storage

log = logging.getLogger("botrt.cluster")

POLL_SHARE = 0.1
"""Of ``[cluster] failover``: how often an owner looks for rows with no wake-up at all."""


class CallbackRouter:
    """The partitions of this worker's Callback bots, and the hand-over of their rows.

    Attributes:
        assignments: one `Assignment` per bot name.
        poll: seconds between two reads of a bot's partitions when nothing wakes them.
    """

    def __init__(
        self,
        platform: VkPlatform,
        storage: Storage,
        clock: Clock,
        bots: Sequence[str],
        *,
        owner: str,
        failover: float,
    ) -> None:
        """Prepare; nothing is read or taken until `run`. Raises nothing."""
        from botrt.storage import Leases

        self._platform = platform
        self._storage = storage
        self._clock = clock
        leases = Leases(storage, clock)
        # The rows handed over, not yet read as handled: row id -> (partition, the epoch
        # this worker held it at then).
        self._taken: dict[str, dict[int, tuple[int, int]]] = {bot: {} for bot in bots}
        # The chats of the rows in hand: peer -> [partition, rows], for `tenure`.
        self._peers: dict[str, dict[int, list[int]]] = {bot: {} for bot in bots}
        self._row_peers: dict[str, dict[int, int]] = {bot: {} for bot in bots}  # row -> peer
        self.assignments = {
            bot: Assignment(
                storage,
                leases,
                clock,
                bot,
                owner,
                failover=failover,
                busy=self._busy_in(bot),
            )
            for bot in bots
        }
        self.poll = failover * POLL_SHARE
        self._relisten = failover
        self._wakes = {bot: anyio.Event() for bot in bots}
        self._keeper: asyncio.Task[None] | None = None
        self._listening = False

    def _busy_in(self, bot: str) -> Callable[[int], bool]:
        taken = self._taken[bot]
        return lambda part: any(p == part for p, _ in taken.values())

    def tenure(self, bot: str) -> Callable[[int], Lease | None]:
        """What gives the lease a chat of `bot` is handled under here (`tenure(peer)`).

        The chat's partition lease, with this worker's epoch, while an update of that
        chat is in hand and this worker owned the partition at its last round; None
        otherwise. Raises nothing.
        """
        assignment = self.assignments[bot]
        peers = self._peers[bot]

        def tenure(peer: int) -> Lease | None:
            entry = peers.get(peer)
            epoch = None if entry is None else assignment.owned.get(entry[0])
            if entry is None or epoch is None:
                return None
            return Lease(assignment.part_name(entry[0]), assignment.owner, epoch, 0.0)

        return tenure

    def arrived(self, bot: str) -> None:
        """An update of `bot` was recorded here. Raises nothing.

        While listening, PostgreSQL's notification wakes the update's owner (this
        worker or another); else this worker reads its partitions now.
        """
        if not self._listening:
            self._wake(bot)

    def _notified(self, payload: str) -> None:
        # ``<bot>/<partition>``: only the owner reads. Anything else wakes by bot name.
        bot, _, part = payload.rpartition("/")
        assignment = self.assignments.get(bot)
        if assignment is None or not part.isdigit():
            self._wake(payload)
        elif int(part) in assignment.owned:
            self._wake(bot)

    def _wake(self, bot: str) -> None:
        wake = self._wakes.get(bot)
        if wake is not None:
            wake.set()

    async def run(self, submit: Submit) -> None:
        """Own partitions and hand their rows to `submit`, until cancelled.

        The leases keep being renewed after a cancellation (the host drains what was
        handed over), until `close`.

        :raises StorageError: if the storage cannot be reached at the start.
        """
        await prepare_partitions(self._storage)
        if self._platform.fence is not None:
            for bot in self.assignments:
                self._platform.fence(bot, self.tenure(bot))
        await self._round()
        if self._keeper is None:
            self._keeper = asyncio.get_running_loop().create_task(self._keep())
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._listen)
            for bot in self.assignments:
                tg.start_soon(self._claim, bot, submit)

    async def close(self) -> None:
        """Stop renewing and give every partition back now (after the marks are written).

        Logs a failure: the partitions then run out within the leases' time to live.
        """
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.cancel()
            await asyncio.wait([keeper])
        for assignment in self.assignments.values():
            try:
                await assignment.release_all()
            except Exception as exc:
                log.warning(
                    "worker %s could not give back the partitions of bot %s (%s): they run "
                    "out within %.1f s",
                    assignment.owner,
                    assignment.bot,
                    exc,
                    assignment.ttl,
                )

    async def _round(self) -> None:
        for bot, assignment in self.assignments.items():
            before = set(assignment.owned)
            try:
                await assignment.tick()
            except Exception as exc:
                log.warning(
                    "worker %s could not renew the partitions of bot %s, retrying: %s",
                    assignment.owner,
                    bot,
                    exc,
                )
                continue
            if set(assignment.owned) - before:
                self._wake(bot)  # partitions just taken may hold rows left by another

    async def _keep(self) -> None:
        # A plain task, not in `run`'s task group: after a stop cancels `run`, the
        # partitions must stay this worker's while the host drains (until `close`).
        never = anyio.Event()
        every = min(a.every for a in self.assignments.values())
        while True:
            moment = self._clock.now() + dt.timedelta(seconds=every)
            await self._clock.sleep_until(moment, never)
            await self._round()

    async def _listen(self) -> None:
        # A hint only: without it (connection lost, a proxy that drops LISTEN) owners
        # still read their rows every `poll` seconds.
        never = anyio.Event()
        while True:
            try:
                await listen_inbox(self._storage, self._notified, self._listen_started)
            except Exception as exc:
                log.warning("cluster: not listening for new updates (%s); reading on a timer", exc)
            finally:
                self._listening = False
            for bot in self.assignments:
                self._wake(bot)  # what was notified meanwhile is lost: read now
            moment = self._clock.now() + dt.timedelta(seconds=self._relisten)
            await self._clock.sleep_until(moment, never)

    def _listen_started(self) -> None:
        self._listening = True
        for bot in self.assignments:
            self._wake(bot)  # what was recorded before the listener was in place

    async def _claim(self, bot: str, submit: Submit) -> None:
        assignment = self.assignments[bot]
        taken = self._taken[bot]
        adopted: dict[int, int] = {}  # partition -> epoch whose states were read since
        while True:
            wake = self._wakes[bot] = anyio.Event()  # a wake from here on: another pass
            parts = assignment.mine()
            rows: list[tuple[int, str, str, int]] | None = None
            try:
                await self._adopt(bot, assignment, parts, adopted)
                rows = await pending_rows(self._storage, bot, parts)
            except Exception as exc:
                log.warning(
                    "worker %s could not read bot %s's inbox: %s", assignment.owner, bot, exc
                )
            if rows is not None:
                await self._hand_over(bot, assignment, taken, parts, rows, submit)
            moment = self._clock.now() + dt.timedelta(seconds=self.poll)
            await self._clock.sleep_until(moment, wake)

    async def _adopt(
        self, bot: str, assignment: Assignment, parts: Sequence[int], adopted: dict[int, int]
    ) -> None:
        # A partition held at another epoch than when the states were last read
        # changed hands meanwhile: its conversations' states may have changed elsewhere.
        epochs = {p: assignment.owned[p] for p in parts if p in assignment.owned}
        for part in [p for p in adopted if p not in assignment.owned]:
            del adopted[part]
        adopt = self._platform.adopt
        if adopt is None or all(adopted.get(p) == e for p, e in epochs.items()):
            return
        await adopt(bot)
        adopted.update(epochs)

    async def _hand_over(
        self,
        bot: str,
        assignment: Assignment,
        taken: dict[int, tuple[int, int]],
        parts: Sequence[int],
        rows: Sequence[tuple[int, str, str, int]],
        submit: Submit,
    ) -> None:
        # What was handed over and no longer reads as unhandled is handled (its mark
        # is committed); what belongs to partitions lost since is another worker's; and
        # what was handed over at an epoch this worker no longer holds (lost and taken
        # back meanwhile) cannot be marked (its mark is fenced): it is handed over again.
        listed = {row[0] for row in rows}
        read = set(parts)
        owned = assignment.owned
        for row_id, (part, epoch) in list(taken.items()):
            if (part in read and row_id not in listed) or owned.get(part) != epoch:
                del taken[row_id]
                self._let_go(bot, row_id)
        for row_id, key, body, part in rows:
            if row_id in taken:
                continue
            if not assignment.owns(part):
                continue  # a paused worker stops here before another takes the partition
            epoch = owned[part]
            taken[row_id] = (part, epoch)
            event = self._platform.event_of(bot, json.loads(body))
            if event is not None:
                self._fence_mark(
                    bot, event, key, Lease(assignment.part_name(part), assignment.owner, epoch, 0.0)
                )
                self._hold(bot, row_id, event, part)
                await submit(event)

    def _fence_mark(self, bot: str, event: Event, key: str, lease: Lease) -> None:
        # The mark is written only while this worker holds the partition at the epoch
        # it handled the update under (`Inbox.done`'s fence).
        vk_inbox = self._platform.inbox
        if event.on_handled is not None and vk_inbox is not None:
            event.on_handled = partial(vk_inbox.inbox.done, bot, key, lease)

    def _hold(self, bot: str, row_id: int, event: Event, part: int) -> None:
        # The chat's partition, for `tenure`, while the row is in hand. The peer as the
        # conversation's key has it (`Conversation`): the chat, else the user.
        peer = getattr(event, "peer_id", getattr(event, "user_id", None))
        if not isinstance(peer, int):
            return
        self._row_peers[bot][row_id] = peer
        entry = self._peers[bot].setdefault(peer, [part, 0])
        entry[1] += 1

    def _let_go(self, bot: str, row_id: int) -> None:
        peer = self._row_peers[bot].pop(row_id, None)
        entry = None if peer is None else self._peers[bot].get(peer)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del self._peers[bot][peer]
