"""Scheduled runs on a served host go through its intake: drained on stop, blocking no loop."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from botrt.adapter import ScheduleEvent
from botrt.config import parse_config
from botrt.handle import Flow, on_schedule
from botrt.host import Host
from botrt.testing import ManualClock

pytestmark = pytest.mark.anyio

START = dt.datetime(2026, 11, 23, 7, 59, 30, tzinfo=dt.UTC)


def minute(n: int) -> dt.datetime:
    return dt.datetime(2026, 11, 23, 8, n, tzinfo=dt.UTC)


@asynccontextmanager
async def served(clock: ManualClock, *flows: Flow) -> AsyncIterator[Host]:
    """A host serving `flows` on `clock`; the block must call `request_stop`."""
    config = parse_config(
        {
            "bot": {"timezone": "UTC"},
            "console": {"enabled": False},
            "plugins": {"builtin": False, "dirs": []},
            "storage": {"url": "sqlite:///:memory:"},
        },
        base_dir=".",
    )
    host = Host(config, entry_points=False)
    host.info.clock = clock
    await host.start()
    try:
        for flow in flows:
            host.dispatcher.add(flow)
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: host.serve(signals=False))
            await clock.wait_sleeping(1)  # the scheduler waits for the first slot
            yield host
    finally:
        await host.stop()


async def test_a_scheduled_run_in_flight_is_drained_on_stop_not_cancelled() -> None:
    started, gate = anyio.Event(), anyio.Event()
    finished: list[dt.datetime] = []

    @on_schedule(every="1m")
    async def report(event: ScheduleEvent) -> None:
        started.set()
        await gate.wait()
        finished.append(event.scheduled_for)

    clock = ManualClock(START)
    async with served(clock, report) as host:
        clock.advance(minute(0))
        with anyio.fail_after(10):
            await started.wait()
        host.request_stop()
        await wait_all_tasks_blocked()  # the host now drains what is in flight
        gate.set()
    assert finished == [minute(0)]


async def test_a_long_scheduled_run_delays_no_other_schedule(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = anyio.Event()
    slow_runs: list[dt.datetime] = []
    quick_runs: list[dt.datetime] = []
    quick_ran = anyio.Event()

    @on_schedule(every="1m")
    async def slow(event: ScheduleEvent) -> None:
        slow_runs.append(event.scheduled_for)
        await gate.wait()

    @on_schedule(every="1m")
    async def quick(event: ScheduleEvent) -> None:
        nonlocal quick_ran
        quick_runs.append(event.scheduled_for)
        quick_ran.set()

    clock = ManualClock(START)
    async with served(clock, slow, quick) as host:
        with caplog.at_level(logging.WARNING, logger="botrt.schedule"), anyio.fail_after(10):
            for n in range(3):
                quick_ran = anyio.Event()
                clock.advance(minute(n))
                await quick_ran.wait()
                await clock.wait_sleeping(1)  # the loop waits for the next slot already
        assert quick_runs == [minute(0), minute(1), minute(2)]
        # The slow flow's later slots came while its first run went on: skipped, and said so.
        assert slow_runs == [minute(0)]
        assert "skipped the 2026-11-23T08:01+00:00 slot: its run of" in caplog.text
        gate.set()
        with anyio.fail_after(10):
            while host.busy(ScheduleEvent(scheduled_for=minute(0), target=slow, bot="")):
                await wait_all_tasks_blocked()
            quick_ran = anyio.Event()
            clock.advance(minute(3))
            await quick_ran.wait()
            await clock.wait_sleeping(1)
            await wait_all_tasks_blocked()
        assert slow_runs == [minute(0), minute(3)]
        host.request_stop()
