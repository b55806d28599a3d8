"""Schedules at least once (issue 16): a slot is done when its run has finished.

A run cut short (a stop that cancels it, a crash that leaves its lease behind)
leaves its slot owed, and the next start runs it again within the grace. A
"restart" is a fresh host on the same SQLite file; time is a ManualClock.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import anyio
import pytest

from _ticks import Tick, first_seen, minute
from botrt.storage import Storage
from botrt.storage._internal import Leases
from botrt.testing import ManualClock, TestHost

pytestmark = pytest.mark.anyio

START = dt.datetime(2026, 11, 23, 7, 59, 30, tzinfo=dt.UTC)


def host(url: str, tick: Tick, clock: ManualClock | None = None) -> TestHost:
    return TestHost(
        flows=[tick.flow], config={"storage": {"url": url}, "bot": {"timezone": "UTC"}}, clock=clock
    )


async def test_a_run_cancelled_mid_way_runs_again_at_the_next_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    tick = Tick()
    await first_seen(url, tick)
    async with host(url, tick) as h:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(h.host.scheduler.run_due, minute(0))
                with anyio.fail_after(10):
                    await tick.running.wait()
                scope.cancel()  # a stop whose grace ran out: the run never finished
    assert tick.started == [minute(0)]
    assert tick.finished == []

    tick.gate.set()
    async with host(url, tick) as h:
        (event,) = await h.host.scheduler.run_due(minute(0, 30))
        assert event.scheduled_for == minute(0)
        assert event.late == dt.timedelta(seconds=30)
        assert await h.host.scheduler.run_due(minute(0, 40)) == []  # now it is done
    assert tick.finished == [minute(0)]
    assert tick.started == [minute(0), minute(0)]


async def test_a_finished_run_is_not_run_again_after_a_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    tick = Tick()
    tick.gate.set()
    await first_seen(url, tick)
    async with host(url, tick) as h:
        await h.host.scheduler.run_due(minute(0))
    async with host(url, tick) as h:
        assert await h.host.scheduler.run_due(minute(0, 30)) == []
    assert tick.started == [minute(0)]


async def test_a_crashed_runs_slot_is_taken_over_once_its_lease_expires(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    tick = Tick()
    tick.gate.set()
    await first_seen(url, tick)
    # A process that took the 08:00 slot and died mid-run: its lease stays behind.
    clock = ManualClock(minute(0))
    async with await Storage.open(url) as storage:
        dead = await Leases(storage, clock).acquire("schedule:-:tick", owner="dead", ttl=30)
        assert dead is not None

    clock = ManualClock(minute(0, 5))
    async with host(url, tick, clock) as h, anyio.create_task_group() as tg:
        tg.start_soon(lambda: h.host.serve(signals=False))
        with anyio.fail_after(10):
            await clock.wait_sleeping(1)
        # The slot is owed but leased: the loop waits for the lease's expiry.
        assert [moment for moment, _ in clock.sleepers] == [minute(0, 30)]
        assert tick.started == []
        clock.advance(minute(0, 30))
        with anyio.fail_after(10):
            while not tick.finished:
                await anyio.wait_all_tasks_blocked()
        h.host.request_stop()
    assert tick.started == [minute(0)]


async def test_a_run_drained_at_a_stop_is_recorded_done(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    tick = Tick()
    clock = ManualClock(START)
    async with host(url, tick, clock) as h, anyio.create_task_group() as tg:
        tg.start_soon(lambda: h.host.serve(signals=False))
        with anyio.fail_after(10):
            await clock.wait_sleeping(1)
            clock.advance(minute(0))
            await tick.running.wait()
        h.host.request_stop()
        await anyio.wait_all_tasks_blocked()  # the stop drains the run in flight
        tick.gate.set()
    assert tick.finished == [minute(0)]
    async with host(url, tick) as h:
        assert await h.host.scheduler.run_due(minute(0, 30)) == []
    assert tick.started == [minute(0)]


async def test_two_hosts_never_run_a_slot_at_once(tmp_path: Path, postgres_url: str) -> None:
    tick = Tick()
    await first_seen(postgres_url, tick)
    async with host(postgres_url, tick) as a, host(postgres_url, tick) as b:
        async with anyio.create_task_group() as tg:
            tg.start_soon(a.host.scheduler.run_due, minute(0))
            with anyio.fail_after(10):
                await tick.running.wait()
            # a runs the slot and holds its lease: b leaves it alone.
            assert await b.host.scheduler.run_due(minute(0, 5)) == []
            tick.gate.set()
        assert await b.host.scheduler.run_due(minute(0, 10)) == []
    assert tick.started == [minute(0)]
