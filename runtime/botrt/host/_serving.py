"""Serving: run the adapters (restarting those that crash) until a stop, then drain.

`Serving` is the host's running phase and nothing else: it gets the intake's
two ends and narrow callables for the rest, never the `Host`.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable

import anyio

from botrt.adapter import Adapter, Submit
from botrt.host._intake import IntakeSender, IntakeWorker
from botrt.plugin import Backoff, Clock

log = logging.getLogger("botrt.host")

# A crashed adapter's restart waits grow from 1 s to this many seconds; a crash
# after a run at least this long starts the backoff over.
RESTART_CAP = 60.0


class Serving:
    """Runs adapters and side tasks until `stop` is set, then drains the intake.

    `adapters` and `clock` are read when serving starts (a host fills them in
    at start, tests after it). `on_started` and `on_stopping` are the host's
    hooks; `stop_background` ends plugins' background work by a deadline.
    """

    def __init__(
        self,
        *,
        intake: IntakeSender,
        worker: IntakeWorker,
        stop: anyio.Event,
        adapters: Callable[[], list[Adapter]],
        submit: Submit,
        clock: Callable[[], Clock],
        on_started: Callable[[], object],
        on_stopping: Callable[[], object],
        stop_background: Callable[[float], object],
    ) -> None:
        self._intake = intake
        self._worker = worker
        self._stop = stop
        self._adapters = adapters
        self._submit = submit
        self._clock = clock
        self._on_started = on_started
        self._on_stopping = on_stopping
        self._stop_background = stop_background

    async def serve(
        self,
        tasks: Iterable[Callable[[], Awaitable[object]]],
        *,
        drain_grace: float,
        signals: bool,
    ) -> None:
        """Run the adapters and `tasks` until the stop, then drain within `drain_grace`.

        In-flight and queued events finish, and background work is told to
        stop, all by one deadline: `drain_grace` seconds after the stop.
        """
        try:
            async with anyio.create_task_group() as outer:
                outer.start_soon(self._worker.run)
                async with anyio.create_task_group() as intake:
                    if signals:
                        intake.start_soon(self._watch_signals)
                    adapters = self._adapters()
                    for adapter in adapters:
                        intake.start_soon(self._run_adapter, adapter)
                    for task in tasks:
                        intake.start_soon(task)
                    self._on_started()
                    if not adapters:
                        log.warning("no adapter is configured: nothing will deliver events")
                    await self._stop.wait()
                    deadline = anyio.current_time() + drain_grace
                    # Background work (a broadcast) is resumable: it stops now, its
                    # step in flight within the same deadline as the events.
                    self._stop_background(deadline)
                    intake.cancel_scope.cancel()
                self._on_stopping()
                self._intake.close()
                with anyio.CancelScope(deadline=deadline) as scope:
                    await self._worker.wait_drained()
                if scope.cancelled_caught:
                    log.warning("events still running after %.0f s; cancelling them", drain_grace)
                outer.cancel_scope.cancel()
        finally:
            # Lanes are plain asyncio tasks, outside the task groups' cancel scopes.
            self._intake.close()
            with anyio.CancelScope(shield=True):
                await self._worker.cancel_lanes()

    async def _watch_signals(self) -> None:
        try:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    log.info("received %s: stopping", signal.Signals(signum).name)
                    self._stop.set()
                    return
        except (NotImplementedError, ValueError):  # not the main thread, or no signals here
            return

    async def _run_adapter(self, adapter: Adapter) -> None:
        # A crashed adapter is restarted: a bot that stays up but deaf is worse than
        # one that retries. The waits grow on the host's clock.
        backoff = Backoff(1.0, RESTART_CAP)
        clock = self._clock()
        failures = 0
        while True:
            started = clock.now()
            try:
                await adapter.run(self._submit)
                break
            except Exception:
                ran = (clock.now() - started).total_seconds()
                # A crash after a good long run starts the backoff over.
                failures = 1 if ran >= RESTART_CAP else failures + 1
                delay = backoff.delay(failures)
                log.exception(
                    "adapter %s failed (%d time(s) in a row); restarting it in %.1f s",
                    adapter.name,
                    failures,
                    delay,
                )
            await clock.sleep_until(clock.now() + dt.timedelta(seconds=delay), self._stop)
            if self._stop.is_set():
                return
            log.info("adapter %s restarting", adapter.name)
        if adapter.ends_host and not any(
            a is not adapter and not a.ends_host for a in self._adapters()
        ):
            log.info("%s input ended: stopping after in-flight events", adapter.name)
            self._stop.set()
