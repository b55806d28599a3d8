"""Running scheduled flows: each slot at least once, across restarts and processes.

The last slot each schedule *finished* is stored (``last_slot``). A due slot is
run by the process that holds its schedule's lease (``schedule:<plugin>:<flow>``
in `botrt.storage._lease`), so several `botrt serve` on one PostgreSQL run it
once; the lease is renewed while the run goes on, and the slot is recorded done
only when the run has ended. A run cut by a crash (or cancelled at a stop) leaves
the slot not done: the next start runs it again, within the grace: at once after
a stop or a crash on this machine, once the dead process's lease expires
after a crash elsewhere (the storage's `LeaseTiming`: 30 s, or within
``[cluster] failover`` in a cluster). So
a scheduled flow runs at least once per slot, and should make its effects
idempotent (``event.scheduled_for`` is a key unique to the slot).

Time comes from the host's `Clock` (the one `BotInfo` gives plugins), so tests
move it by hand.
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

from botrt.adapter import Event, ScheduleEvent
from botrt.handle import Flow, ScheduleSpec
from botrt.hooks import hookimpl
from botrt.plugin import Clock
from botrt.storage import StorageError
from botrt.storage._internal import Lease, LeaseLostError, Leases, LeaseTiming, worker_id

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from botrt.config import BotConfig
    from botrt.plugin import BotInfo, LoadedPlugin
    from botrt.storage import Storage

log = logging.getLogger("botrt.schedule")


class Scheduler:
    """Delivers a `ScheduleEvent` to each scheduled flow when its slot comes.

    It sees only what it needs of the host: `info` (its clock), the live
    `config`, the running `flows`, `storage` (None without ``[storage]``), the
    `bots` that can send, and the intake's `busy`, `enqueue` and `handle`.

    Attributes:
        owner: who this scheduler is in the slots' leases (host, process, instance).
        grace: a slot missed while the bot was down runs late once if it is
            at most this old; an older one is skipped and logged.
    """

    def __init__(
        self,
        *,
        info: BotInfo,
        config: Callable[[], BotConfig],
        flows: Callable[[], Iterable[Flow]],
        storage: Callable[[], Storage | None],
        bots: Callable[[], Iterable[str]],
        busy: Callable[[Event], bool],
        enqueue: Callable[[Event], None],
        handle: Callable[[Event], Awaitable[None]],
        clock: Clock | None = None,
        grace: dt.timedelta | None = None,
    ) -> None:
        self._info = info
        self._config = config
        self._flows = flows
        self._storage = storage
        self._bots = bots
        self._busy = busy
        self._enqueue = enqueue
        self._handle = handle
        if clock is not None:
            self.clock = clock
        self.grace = grace if grace is not None else dt.timedelta(minutes=10)
        self._wake = anyio.Event()
        self._table = None
        self.owner = worker_id()
        self._runs: dict[str, _Run] = {}
        self._retry_at: float | None = None
        self._claiming = anyio.Lock()

    @property
    def clock(self) -> Clock:
        """The host's clock: the one plugins read through `BotInfo`, so both agree on the time.

        Replacing it here replaces it there; do it before the host starts, so
        plugins that sleep on it in `on_load` use it too.
        """
        return self._info.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self._info.clock = clock

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

    async def setup(self) -> None:
        """Create the table of last runs if needed."""
        ps, _ = self._store()
        await ps.create_all()

    def schedules(self) -> list[tuple[str, Flow, ScheduleSpec, dt.tzinfo]]:
        """Every scheduled flow now running, with its key and time zone."""
        out = []
        for flow in self._flows():
            spec = flow.binding.schedule if flow.binding is not None else None
            if spec is None:
                continue
            zone = _zone(spec.tz) if spec.tz else self._config().bot.tzinfo
            out.append((_key(flow), flow, spec, zone))
        return out

    def default_bot(self) -> str:
        """The bot a `ScheduleEvent` belongs to: the first ``[[bots]]`` entry, else the console."""
        config = self._config()
        if config.bots:
            return config.bots[0].name
        return "console" if config.console_active else next(iter(self._bots()), "")

    def wake(self) -> None:
        """Recompute the next slot now (the set of schedules changed)."""
        self._wake.set()

    async def run(self) -> None:
        """Hand due slots to the host's intake, then sleep until the next one, until cancelled.

        Runs beside the adapters in `Host.serve`: a slot's run is an event like
        any other, so a stop drains it (within the grace) and a long run delays
        no other schedule. A slot that comes while the same schedule's previous
        run is still going is skipped, and logged. The loop also wakes to renew
        the leases of runs in flight, to record runs that ended, and when a slot
        leased by another process may be taken over.
        """
        while True:
            # Replaced first: a run ending from here on wakes this very sleep.
            self._wake = anyio.Event()
            await self._settle()
            for event in await self.claim_due():
                run = self._runs[_key(cast(Flow, event.target))]
                if self._busy(event):
                    self._skipped(event)
                    await self._finish(run)
                    continue
                self._enqueue(event)
            now = self.clock.now()
            upcoming = [s.next_after(now, z) for _, _, s, z in self.schedules()]
            timing = self._leases().timing
            upcoming += [_renewal(r.lease, timing) for r in self._runs.values()]
            if self._retry_at is not None:
                upcoming.append(_moment(self._retry_at))
            moment = min((u for u in upcoming if u is not None), default=None)
            await self.clock.sleep_until(moment, self._wake)

    async def run_due(self, now: dt.datetime | None = None) -> list[ScheduleEvent]:
        """Run every slot that is due at `now` and not yet run; returns the events run.

        Returns once those flows have finished and their slots are recorded done.
        For tests and hosts that do not serve (`TestHost.run_schedules`); a served
        host's `run` queues them instead.
        """
        due = await self.claim_due(now)
        if due:
            async with anyio.create_task_group() as tg:
                for event in due:
                    tg.start_soon(self._handle, event)
            await self._settle(now)
        return due

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

    async def close(self) -> None:
        """Record the slots whose runs ended, and give back the leases of those that did not.

        For the host's stop, after the drain and before the storage closes: a
        run cut by the stop is not done, and the next start runs it again at
        once (its lease is released, not left to expire). Raises nothing.
        """
        with anyio.CancelScope(shield=True):
            try:
                await self._settle()
                for run in list(self._runs.values()):
                    self._runs.pop(run.key, None)
                    await self._leases().release(run.lease)
            except StorageError as exc:
                log.warning("schedules: runs not recorded at the stop (%s); they run again", exc)

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
        self._runs.pop(run.key, None)
        await self._mark_done(run.key, run.slot)
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

    # Hot reload: a changed set of schedules takes effect without waiting for a slot.
    @hookimpl
    def botrt_plugin_loaded(self, host: Any, plugin: LoadedPlugin) -> None:
        """Wake up: a plugin's schedules appeared."""
        self.wake()

    @hookimpl
    def botrt_plugin_reloaded(
        self, host: Any, old: LoadedPlugin, new: LoadedPlugin, elapsed_ms: float
    ) -> None:
        """Wake up: a plugin's schedules may have changed."""
        self.wake()

    @hookimpl
    def botrt_plugin_unloaded(self, host: Any, plugin: LoadedPlugin) -> None:
        """Wake up: a plugin's schedules are gone."""
        self.wake()


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
    """When a run's lease is renewed: once a third of its life is gone (two more chances)."""
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
