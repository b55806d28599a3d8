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
from typing import TYPE_CHECKING, Any, cast

import anyio

from botrt.adapter import Event, ScheduleEvent
from botrt.handle import Flow, ScheduleSpec
from botrt.hooks import hookimpl
from botrt.host._schedule_slots import ScheduleSlots, _key, _moment, _renewal, _Run, _zone
from botrt.plugin import Clock
from botrt.storage import StorageError
from botrt.storage._internal import worker_id

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from botrt.config import BotConfig
    from botrt.plugin import BotInfo, LoadedPlugin
    from botrt.storage import Storage

log = logging.getLogger("botrt.schedule")


class Scheduler(ScheduleSlots):
    """Delivers a `ScheduleEvent` to each scheduled flow when its slot comes.

    It sees only what it needs of the host: `info` (its clock), the live
    `config`, the running `flows`, `storage` (None without ``[storage]``), the
    `bots` that can send, and the intake's `busy`, `enqueue` and `handle`.
    Claiming and recording slots is `ScheduleSlots`, a base class.

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
