"""Jobs once per cluster (issue 17 item 5): member syncs and schedule slots on one PostgreSQL.

Two workers share a PostgreSQL; time is a ManualClock per worker. A "dead"
worker is one whose clock never moves again: it neither renews nor releases,
like a killed process on another machine. Its work must be taken over once
``[cluster] failover`` has passed, and not before its lease runs out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import anyio
import pytest

from _ticks import Tick, first_seen, minute
from botrt.adapter import MemberInfo, MemberSource
from botrt.config import ClusterSection
from botrt.host._cluster import lease_timing
from botrt.host._members import MemberSync
from botrt.plugin import Members
from botrt.storage import Leases, Storage
from botrt.testing import ManualClock, TestHost

pytestmark = pytest.mark.anyio

FAILOVER = 5.0
T0 = dt.datetime(2027, 2, 1, 9, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


class Source(MemberSource):
    """A bot's member list that counts how often it is fetched."""

    def __init__(self) -> None:
        self.fetched = 0
        self.changed = anyio.Event()

    async def fetch(self) -> list[MemberInfo]:
        self.fetched += 1
        self.changed.set()
        self.changed = anyio.Event()
        return [MemberInfo(user_id=7, first_name="Ann")]


class Worker:
    """One worker's member sync: its own storage connection, clock and source."""

    def __init__(self, storage: Storage, clock: ManualClock) -> None:
        self.source = Source()
        self.members = Members(storage.for_plugin("botrt"), lambda: ())
        self.sync = MemberSync(
            {"g1": self.source},
            lambda: self.members,
            lambda event: None,
            storage=lambda: storage,
            clock=lambda: clock,
        )


@pytest.fixture
async def pair(postgres_url: str) -> AsyncIterator[tuple[Storage, Storage]]:
    async with await Storage.open(postgres_url) as one, await Storage.open(postgres_url) as two:
        cluster = ClusterSection(enabled=True, worker_id="w", failover=FAILOVER)
        one.lease_timing = two.lease_timing = lease_timing(cluster)
        await Members(one.for_plugin("botrt"), lambda: ()).setup()
        yield one, two


async def fetched(source: Source, count: int) -> None:
    with anyio.fail_after(10):
        while source.fetched < count:
            await source.changed.wait()


async def test_the_cluster_timing_comes_from_failover() -> None:
    timing = lease_timing(ClusterSection(enabled=True, worker_id="w", failover=FAILOVER))
    assert timing.ttl == pytest.approx(2.0)
    assert timing.renew_every == pytest.approx(0.5)
    assert timing.ttl + timing.standby_every < FAILOVER
    # Without a cluster: today's 30 s.
    assert lease_timing(ClusterSection()).ttl == 30.0


async def test_a_dead_workers_member_sync_is_taken_over_after_failover_not_before(
    pair: tuple[Storage, Storage],
) -> None:
    dead_clock, clock = ManualClock(T0), ManualClock(T0)
    a, b = Worker(pair[0], dead_clock), Worker(pair[1], clock)
    async with anyio.create_task_group() as tg:
        tg.start_soon(a.sync.run, 300.0)
        await fetched(a.source, 1)  # a holds members:g1 and synced
        tg.start_soon(b.sync.run, 300.0)
        await clock.wait_settled(1)  # b stands by until a's lease runs out
        assert [moment for moment, _ in clock.sleepers] == [at(2)]
        # a is dead from now on: its clock never moves, it neither renews nor releases.
        clock.advance(at(1.9))
        await clock.wait_settled(1)
        assert b.source.fetched == 0  # not before the lease ran out
        clock.advance(at(2))
        await fetched(b.source, 1)  # taken over as it ran out, well within failover
        await clock.wait_settled(2)  # b renews and waits for its next sync
        assert (a.source.fetched, b.source.fetched) == (1, 1)
        tg.cancel_scope.cancel()


async def test_a_live_workers_member_sync_is_never_taken_over(
    pair: tuple[Storage, Storage],
) -> None:
    clock = ManualClock(T0)
    a, b = Worker(pair[0], clock), Worker(pair[1], clock)
    async with anyio.create_task_group() as tg:
        tg.start_soon(a.sync.run, 300.0)
        await fetched(a.source, 1)
        tg.start_soon(b.sync.run, 300.0)
        await clock.wait_settled(3)  # a: renewal and next sync; b: standing by
        for second in range(1, 31):  # six failovers, a renewing all along
            clock.advance(at(second))
            await clock.wait_settled(3)
        assert (a.source.fetched, b.source.fetched) == (1, 0)
        tg.cancel_scope.cancel()


async def test_a_stopped_workers_member_sync_is_taken_over_at_the_next_try(
    pair: tuple[Storage, Storage],
) -> None:
    clock = ManualClock(T0)
    a, b = Worker(pair[0], clock), Worker(pair[1], clock)
    async with anyio.create_task_group() as tg:
        stop_a, stopped = anyio.CancelScope(), anyio.Event()
        tg.start_soon(_run_in, stop_a, a.sync, stopped)
        await fetched(a.source, 1)
        tg.start_soon(b.sync.run, 300.0)
        await clock.wait_settled(3)
        stop_a.cancel()  # a graceful stop releases the lease
        with anyio.fail_after(10):
            await stopped.wait()
        await clock.wait_settled(1)
        assert await Leases(pair[0], clock).holder("members:g1") is None
        clock.advance(at(3))  # b's next try: the lease is free
        await fetched(b.source, 1)
        tg.cancel_scope.cancel()


async def _run_in(scope: anyio.CancelScope, sync: MemberSync, stopped: anyio.Event) -> None:
    with scope:
        await sync.run(300.0)
    stopped.set()


def cluster_host(url: str, tick: Tick, clock: ManualClock) -> TestHost:
    return TestHost(
        flows=[tick.flow],
        config={
            "storage": {"url": url},
            "bot": {"timezone": "UTC"},
            "cluster": {"enabled": True, "failover": FAILOVER},
        },
        clock=clock,
    )


async def test_a_dead_workers_slot_is_taken_over_after_failover_not_before(
    postgres_url: str,
) -> None:
    tick = Tick()
    await first_seen(postgres_url, tick)
    dead_clock, clock = ManualClock(minute(0)), ManualClock(minute(0, 1))
    async with (
        cluster_host(postgres_url, tick, dead_clock) as a,
        cluster_host(postgres_url, tick, clock) as b,
        anyio.create_task_group() as tg,
    ):
        assert b.host.storage.lease_timing.ttl == pytest.approx(2.0)
        # a takes the 08:00 slot, then dies mid-run (its clock stops: no renewal).
        tg.start_soon(a.host.scheduler.run_due, minute(0))
        with anyio.fail_after(10):
            await tick.running.wait()
        tg.start_soon(lambda: b.host.serve(signals=False))
        await clock.wait_settled(1)
        assert [moment for moment, _ in clock.sleepers] == [minute(0, 2)]
        clock.advance(minute(0, 1) + dt.timedelta(seconds=0.9))
        await clock.wait_settled(1)
        assert tick.started == [minute(0)]  # not before a's lease ran out
        tick.running = anyio.Event()
        clock.advance(minute(0, 2))  # as a's lease runs out, well within failover
        with anyio.fail_after(10):
            await tick.running.wait()
        assert tick.started == [minute(0), minute(0)]
        b.host.request_stop()
        tick.gate.set()
