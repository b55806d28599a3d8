"""Running scheduled flows: each slot exactly once, across restarts and processes.

The last slot each schedule ran for is stored. A slot is *claimed* with a
conditional update (``last_slot < slot``) that only one process can win, so
several `botrt serve` on one PostgreSQL run it once. Time comes from the
host's `Clock` (the one `BotInfo` gives plugins), so tests move it by hand.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any, cast

import anyio
from sqlalchemy import Column, Float, String, update

from botrt.adapter import Event, ScheduleEvent
from botrt.handle import Flow, ScheduleSpec
from botrt.hooks import hookimpl
from botrt.plugin import Clock

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
        run is still going is skipped, and logged.
        """
        while True:
            for event in await self.claim_due():
                if self._busy(event):
                    log.warning(
                        "schedule %s: skipped the %s slot: its run of an earlier slot "
                        "is still going",
                        _key(cast(Flow, event.target)),
                        event.scheduled_for.isoformat(timespec="minutes"),
                    )
                    continue
                self._enqueue(event)
            now = self.clock.now()
            upcoming = [s.next_after(now, z) for _, _, s, z in self.schedules()]
            moment = min((u for u in upcoming if u is not None), default=None)
            self._wake = anyio.Event()
            await self.clock.sleep_until(moment, self._wake)

    async def run_due(self, now: dt.datetime | None = None) -> list[ScheduleEvent]:
        """Run every slot that is due at `now` and not yet run; returns the events run.

        Returns once those flows have finished. For tests and hosts that do not
        serve (`TestHost.run_schedules`); a served host's `run` queues them instead.
        """
        due = await self.claim_due(now)
        if due:
            async with anyio.create_task_group() as tg:
                for event in due:
                    tg.start_soon(self._handle, event)
        return due

    async def claim_due(self, now: dt.datetime | None = None) -> list[ScheduleEvent]:
        """Claim every slot that is due at `now` and not yet run; returns their events, unrun."""
        now = now or self.clock.now()
        due: list[ScheduleEvent] = []
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
        if slot is None:
            return None
        if not await self._claim(key, slot.timestamp()):
            return None
        late = now - slot
        local = slot.astimezone(zone)
        if late > self.grace:
            log.warning(
                "schedule %s: skipped the %s slot, missed by %s (longer than the %s grace)",
                key,
                local.isoformat(timespec="minutes"),
                _short(late),
                _short(self.grace),
            )
            return None
        if late > dt.timedelta(minutes=1):
            log.warning(
                "schedule %s: running the %s slot late, by %s",
                key,
                local.isoformat(timespec="minutes"),
                _short(late),
            )
        return ScheduleEvent(scheduled_for=local, target=flow, bot=self.default_bot(), late=late)

    async def _claim(self, key: str, slot: float) -> bool:
        """Record `slot` as run for `key`; True for the one process whose update wins."""
        ps, t = self._store()
        async with ps.begin() as conn:
            result = await conn.execute(
                update(t)
                .where(t.c.key == key, t.c.last_slot < slot)
                .values(last_slot=slot, updated_at=time.time())
            )
            return result.rowcount == 1

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
