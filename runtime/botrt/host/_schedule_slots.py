"""A scheduler's slots: claimed under a lease, recorded done, their leases renewed.

`ScheduleSlots` is mixed into `Scheduler` (`botrt.host._scheduler`): `claim_due`
takes each due slot's lease and builds its event; `_settle` records the runs
that ended and renews the leases of those still going; the table of last slots
(``schedules``, in the ``botrt`` plugin's storage) is read and written here.
Methods, not a layer: `Scheduler.claim_due` is this `claim_due`.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import anyio
from sqlalchemy import Column, Float, String, select, update

from botrt.adapter import ScheduleEvent
from botrt.handle import Flow, ScheduleSpec
from botrt.storage._internal import Lease, LeaseLostError, Leases, LeaseTiming

if TYPE_CHECKING:
    from collections.abc import Callable

    from botrt.plugin import Clock
    from botrt.storage import Storage

log = logging.getLogger("botrt.schedule")


class ScheduleSlots:
    """Claiming, recording and renewing the slots of `Scheduler` (see the module)."""

    # Set by `Scheduler.__init__`.
    clock: Clock
    grace: dt.timedelta
    owner: str
    _storage: Callable[[], Storage | None]
    _table: Any
    _wake: anyio.Event
    _runs: dict[str, _Run]
    _retry_at: float | None
    _claiming: anyio.Lock

    # `Scheduler`'s own methods.
    schedules: Callable[[], list[tuple[str, Flow, ScheduleSpec, dt.tzinfo]]]
    default_bot: Callable[[], str]

    def _store(self):  # type: ignore[no-untyped-def]  # noqa: ANN202
        storage = self._storage()
        if storage is None:
            raise RuntimeError("the scheduler runs only on a host with [storage]")
        if self._table is None:
            ps = storage.for_plugin("botrt")
            self._table = ps.table(
                "schedules",
                Column("key", String(300), primary_key=True),
                Column("last_slot", Float, nullable=False),
                Column("updated_at", Float, nullable=False),
            )
        return storage.for_plugin("botrt"), self._table

    async def claim_due(self, now: dt.datetime | None = None) -> list[ScheduleEvent]:
        """Take every slot that is due at `now` and not yet run; returns their events, unrun.

        Each event's `on_handled` records its slot done (with the next `run_due`,
        loop turn or `close`); until then this process holds the schedule's lease.
        """
        now = now or self.clock.now()
        self._retry_at = None
        due: list[ScheduleEvent] = []
        # One claim at a time in this process: leases tell processes apart, not calls.
        async with self._claiming:
            for key, flow, spec, zone in self.schedules():
                # Short writes, shielded: a claim cut by shutdown would leave a
                # connection half-closed (and the claim's outcome unknown).
                with anyio.CancelScope(shield=True):
                    event = await self._due_event(key, flow, spec, zone, now)
                if event is not None:
                    due.append(event)
        return due

    async def _due_event(
        self, key: str, flow: Flow, spec: ScheduleSpec, zone: dt.tzinfo, now: dt.datetime
    ) -> ScheduleEvent | None:
        ps, t = self._store()
        slot = spec.latest_at_or_before(now, zone)
        # A schedule seen for the first time starts from its latest past slot:
        # it does not run for slots from before it existed.
        first = (slot or now).timestamp()
        await ps.upsert(
            t, {"key": key, "last_slot": first, "updated_at": time.time()}, key="key", update=()
        )
        if slot is None or await self._last_slot(key) >= slot.timestamp():
            return None
        local = slot.astimezone(zone)
        event = ScheduleEvent(scheduled_for=local, target=flow, bot=self.default_bot())
        running = self._runs.get(key)
        if running is not None and running.slot >= slot.timestamp():
            return None  # this very slot runs here already
        if running is not None:
            # This process runs an earlier slot still: the new one is skipped.
            self._skipped(event)
            await self._mark_done(key, slot.timestamp())
            return None
        return await self._lease_slot(key, slot, event, now)

    async def _lease_slot(
        self, key: str, slot: dt.datetime, event: ScheduleEvent, now: dt.datetime
    ) -> ScheduleEvent | None:
        """Take the slot's lease and hand back its event, or None if it is not to run here."""
        local = event.scheduled_for
        leases = self._leases(now)
        lease = await leases.acquire(f"schedule:{key}", owner=self.owner)
        if lease is None:
            # Running in another process, or left by a dead one: look again at its expiry.
            holder = await leases.holder(f"schedule:{key}")
            retry = holder.expires_at if holder is not None else now.timestamp()
            self._retry_at = min(retry, self._retry_at or retry)
            return None
        if await self._last_slot(key) >= slot.timestamp():  # done meanwhile elsewhere
            await leases.release(lease)
            return None
        late = now - slot
        if late > self.grace:
            log.warning(
                "schedule %s: skipped the %s slot, missed by %s (longer than the %s grace)",
                key,
                local.isoformat(timespec="minutes"),
                _short(late),
                _short(self.grace),
            )
            await self._mark_done(key, slot.timestamp())
            await leases.release(lease)
            return None
        if late > dt.timedelta(minutes=1):
            log.warning(
                "schedule %s: running the %s slot late, by %s",
                key,
                local.isoformat(timespec="minutes"),
                _short(late),
            )
        event.late = late
        run = _Run(key, slot.timestamp(), lease)
        self._runs[key] = run
        event.on_handled = partial(self._ran, run)
        return event

    def _ran(self, run: _Run) -> None:
        # `on_handled`: sync, so the record waits for the loop (or `run_due`, `close`).
        run.done = True
        self._wake.set()

    def _skipped(self, event: ScheduleEvent) -> None:
        log.warning(
            "schedule %s: skipped the %s slot: its run of an earlier slot is still going",
            _key(cast(Flow, event.target)),
            event.scheduled_for.isoformat(timespec="minutes"),
        )

    async def _settle(self, now: dt.datetime | None = None) -> None:
        """Record the runs that ended; renew the leases of the others that are due for it."""
        moment = now or self.clock.now()
        leases = self._leases(now)
        with anyio.CancelScope(shield=True):
            for run in list(self._runs.values()):
                if run.done:
                    await self._finish(run)
                elif moment >= _renewal(run.lease, leases.timing):
                    try:
                        run.lease = await leases.renew(run.lease)
                    except LeaseLostError as exc:
                        # Stalled past its lease: another process runs the slot again.
                        log.warning("schedule %s: %s", run.key, exc)
                        self._runs.pop(run.key, None)

    async def _finish(self, run: _Run) -> None:
        # Recorded done before it stops being "running here": a claim in between would
        # otherwise find neither, and this process (the lease's owner) run it again.
        await self._mark_done(run.key, run.slot)
        self._runs.pop(run.key, None)
        await self._leases().release(run.lease)

    async def _last_slot(self, key: str) -> float:
        ps, t = self._store()
        value = await ps.scalar(select(t.c.last_slot).where(t.c.key == key))
        return float(value) if value is not None else 0.0

    async def _mark_done(self, key: str, slot: float) -> None:
        """Record `slot` as done for `key` (unless a later one is)."""
        ps, t = self._store()
        await ps.execute(
            update(t)
            .where(t.c.key == key, t.c.last_slot < slot)
            .values(last_slot=slot, updated_at=time.time())
        )

    def _leases(self, now: dt.datetime | None = None) -> Leases:
        storage = self._storage()
        if storage is None:
            raise RuntimeError("the scheduler runs only on a host with [storage]")
        return Leases(storage, self.clock if now is None else _Instant(now))


@dataclass(slots=True)
class _Run:
    """A slot this process runs: its schedule, its time, the lease it holds, whether it ended."""

    key: str
    slot: float
    lease: Lease
    done: bool = False


class _Instant:
    """A clock stopped at `moment`: leases taken for `run_due(now)` are timed by that `now`."""

    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def now(self) -> dt.datetime:
        return self.moment

    async def sleep_until(self, moment: dt.datetime | None, wake: anyio.Event) -> None:
        raise NotImplementedError("a stopped clock is not slept on")


def _moment(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _renewal(lease: Lease, timing: LeaseTiming) -> dt.datetime:
    """When a run's lease is renewed: once `renew_every` of its life is gone (a quarter)."""
    return _moment(lease.expires_at - timing.ttl + timing.renew_every)


def _key(flow: Flow) -> str:
    """A schedule's stored name: its plugin and flow (``-`` for a flow outside plugins)."""
    return f"{flow.plugin or '-'}:{flow.name}"


def _zone(name: str) -> dt.tzinfo:
    import zoneinfo

    return zoneinfo.ZoneInfo(name)


def _short(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
