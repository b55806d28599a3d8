"""Partition assignment of a cluster's Callback conversations (issue 17 items 2 and 4):
workers share a bot's partitions through the storage's leases, a joining worker gets its
share as the others give idle partitions back, a busy partition stays, a dead worker's
partitions are taken once they run out, a stop gives everything back at once. Timed by a
`ManualClock`, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from botrt.protocols.vk._partitions import Assignment
from botrt.storage import Leases, Storage
from botrt.testing import ManualClock

pytestmark = pytest.mark.anyio

PARTS = 8
FAILOVER = 5.0  # leases live 3 s, rounds every second
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def later(clock: ManualClock, seconds: float) -> None:
    clock.advance(clock.now() + dt.timedelta(seconds=seconds))


def worker(
    storage: Storage,
    clock: ManualClock,
    owner: str,
    busy: Callable[[int], bool] = lambda part: False,
) -> Assignment:
    return Assignment(
        storage,
        Leases(storage, clock),
        clock,
        "bot",
        owner,
        failover=FAILOVER,
        busy=busy,
        partitions=PARTS,
    )


async def test_a_lone_worker_owns_every_partition(storage: Storage, clock: ManualClock) -> None:
    one = worker(storage, clock, "w1")
    await one.tick()
    assert one.mine() == list(range(PARTS))
    assert one.live == 1
    later(clock, one.ttl)  # no round since: its own clock no longer vouches for them
    assert one.mine() == []
    assert not one.owns(0)


async def test_a_joining_worker_gets_its_share_as_idle_partitions_are_given_back(
    storage: Storage, clock: ManualClock
) -> None:
    one, two = worker(storage, clock, "w1"), worker(storage, clock, "w2")
    await one.tick()
    await two.tick()  # all taken: it announces itself and waits
    assert two.mine() == []
    assert two.live == 2
    later(clock, one.every)
    await one.tick()  # over its share of 4: gives 4 back
    assert len(one.mine()) == PARTS // 2
    await two.tick()
    assert len(two.mine()) == PARTS // 2
    assert set(one.mine()).isdisjoint(two.mine())
    later(clock, one.every)
    await one.tick()
    await two.tick()
    assert sorted(one.mine() + two.mine()) == list(range(PARTS))  # stable: nothing moves


async def test_a_busy_partition_is_not_given_back(storage: Storage, clock: ManualClock) -> None:
    busy = {0, 1, 2, 3, 4, 5}  # an update in hand, or an `ask` waiting for its answer
    one = worker(storage, clock, "w1", busy=lambda part: part in busy)
    two = worker(storage, clock, "w2")
    await one.tick()
    await two.tick()
    await one.tick()
    assert one.mine() == [0, 1, 2, 3, 4, 5]  # only the idle 6 and 7 went
    await two.tick()
    assert two.mine() == [6, 7]
    busy.clear()
    later(clock, one.every)
    await one.tick()
    await two.tick()
    assert len(one.mine()) == len(two.mine()) == PARTS // 2


async def test_a_dead_workers_partitions_are_taken_once_they_run_out(
    storage: Storage, clock: ManualClock
) -> None:
    one, two = worker(storage, clock, "w1"), worker(storage, clock, "w2")
    for _ in range(2):
        await one.tick()
        await two.tick()
    theirs = two.mine()
    assert len(theirs) == PARTS // 2
    later(clock, one.every)
    await one.tick()  # two is dead: it renews no more
    assert len(one.mine()) == PARTS // 2
    later(clock, one.ttl)
    await one.tick()
    assert one.mine() == list(range(PARTS))
    assert one.live == 1
    assert two.mine() == []  # its own clock stops it too, before a round tells it
    await two.tick()  # back from a long pause: the partitions are lost, it starts over
    assert two.mine() == []
    assert two.live == 2


async def test_a_stop_gives_every_partition_back_at_once(
    storage: Storage, clock: ManualClock
) -> None:
    one, two = worker(storage, clock, "w1"), worker(storage, clock, "w2")
    await one.tick()
    await two.tick()
    await one.release_all()
    await two.tick()  # no wait for an expiry
    assert two.mine() == list(range(PARTS))
    assert two.live == 1


async def test_a_restart_under_the_same_worker_id_resumes_its_partitions(
    storage: Storage, clock: ManualClock
) -> None:
    await worker(storage, clock, "w1").tick()
    again = worker(storage, clock, "w1")
    await again.tick()
    assert again.mine() == list(range(PARTS))
