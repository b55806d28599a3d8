"""Leases (issue 16): one owner per name, an expiry on the host's clock, a fencing epoch.

Each test runs on SQLite and on a real PostgreSQL; a second process is a second
`Storage` on the same database.
"""

from __future__ import annotations

import datetime as dt
import socket
import sys
from collections.abc import AsyncIterator

import anyio
import pytest

from botrt.storage import Storage
from botrt.storage._lease import (
    Lease,
    LeaseBusyError,
    LeaseLostError,
    Leases,
    process_gone,
    worker_id,
)
from botrt.testing import ManualClock

pytestmark = pytest.mark.anyio

START = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def other(storage_url: str) -> AsyncIterator[Storage]:
    """The same database as `storage`, opened as another process would."""
    opened = await Storage.open(storage_url)
    try:
        yield opened
    finally:
        await opened.close()


def later(seconds: float) -> dt.datetime:
    return START + dt.timedelta(seconds=seconds)


async def test_one_owner_at_a_time_until_expiry(
    storage: Storage, other: Storage, clock: ManualClock
) -> None:
    a, b = Leases(storage, clock), Leases(other, clock)
    first = await a.acquire("job:1", owner="a", ttl=30)
    assert first == Lease("job:1", "a", 1, START.timestamp() + 30)
    assert await b.acquire("job:1", owner="b", ttl=30) is None
    assert await b.holder("job:1") == first
    assert await b.acquire("job:2", owner="b", ttl=30) is not None  # another name is free

    clock.advance(later(30))  # a died: its lease expired
    assert await b.holder("job:1") is None
    taken = await b.acquire("job:1", owner="b", ttl=30)
    assert taken is not None
    assert taken.owner == "b"
    assert taken.epoch == 2


async def test_acquiring_again_extends_and_keeps_the_epoch(
    storage: Storage, clock: ManualClock
) -> None:
    leases = Leases(storage, clock)
    first = await leases.acquire("job", owner="a", ttl=30)
    clock.advance(later(10))
    again = await leases.acquire("job", owner="a", ttl=30)
    assert first is not None
    assert again is not None
    assert again.epoch == first.epoch
    assert again.expires_at == later(40).timestamp()


async def test_renewal_keeps_a_lease_past_its_first_expiry(
    storage: Storage, other: Storage, clock: ManualClock
) -> None:
    a, b = Leases(storage, clock), Leases(other, clock)
    lease = await a.acquire("job", owner="a", ttl=30)
    assert lease is not None
    clock.advance(later(20))
    lease = await a.renew(lease, ttl=30)
    clock.advance(later(45))  # past the first expiry, before the renewed one
    assert await b.acquire("job", owner="b", ttl=30) is None
    assert lease.expires_at == later(50).timestamp()


async def test_a_renewal_after_a_take_over_is_told_it_lost(
    storage: Storage, other: Storage, clock: ManualClock
) -> None:
    a, b = Leases(storage, clock), Leases(other, clock)
    lease = await a.acquire("job", owner="a", ttl=30)
    assert lease is not None
    clock.advance(later(31))
    taken = await b.acquire("job", owner="b", ttl=30)
    assert taken is not None
    assert taken.epoch == lease.epoch + 1
    with pytest.raises(LeaseLostError, match="held by 'b' \\(epoch 2\\)") as lost:
        await a.renew(lease, ttl=30)
    assert lost.value.holder == taken
    await a.release(lease)  # a lost lease's release changes nothing
    assert await b.holder("job") == taken


async def test_release_hands_over_at_once_and_the_epoch_grows(
    storage: Storage, other: Storage, clock: ManualClock
) -> None:
    a, b = Leases(storage, clock), Leases(other, clock)
    lease = await a.acquire("job", owner="a", ttl=30)
    assert lease is not None
    await a.release(lease)
    assert await a.holder("job") is None
    taken = await b.acquire("job", owner="b", ttl=30)
    assert taken is not None
    assert taken.epoch == 2
    with pytest.raises(LeaseLostError, match="held by 'b'"):
        await a.renew(lease, ttl=30)


async def test_only_one_of_many_concurrent_acquires_wins(
    storage: Storage, other: Storage, clock: ManualClock
) -> None:
    won: list[Lease] = []

    async def take(leases: Leases, owner: str) -> None:
        lease = await leases.acquire("job", owner=owner, ttl=30)
        if lease is not None:
            won.append(lease)

    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(take, Leases(storage if i % 2 else other, clock), f"w{i}")
    assert len(won) == 1
    assert won[0].epoch == 1


async def test_hold_renews_while_the_block_runs_and_releases_after(
    storage: Storage, other: Storage, clock: ManualClock
) -> None:
    a, b = Leases(storage, clock), Leases(other, clock)
    async with a.hold("job", owner="a", ttl=30) as lease:
        await clock.wait_sleeping(1)  # the renewer waits for its moment
        for step in (10, 20, 30, 40):  # each third of the time to live
            clock.advance(later(step))
            await clock.wait_sleeping(0)
            await clock.wait_sleeping(1)
        held = await b.holder("job")
        assert held is not None
        assert held.epoch == lease.epoch
        assert held.expires_at == later(70).timestamp()
        with pytest.raises(LeaseBusyError, match="held by 'a'"):
            async with b.hold("job", owner="b", ttl=30):
                pytest.fail("the block ran while another owner held the lease")
    assert await b.holder("job") is None


async def test_hold_cancels_the_block_when_the_lease_is_lost(
    storage: Storage, other: Storage, clock: ManualClock
) -> None:
    a, b = Leases(storage, clock), Leases(other, clock)
    reached = []

    async def work() -> None:
        async with a.hold("job", owner="a", ttl=30):
            await clock.wait_sleeping(1)
            # A stall longer than the lease (a paused VM): b takes over first.
            clock.moment = later(31)
            assert await b.acquire("job", owner="b", ttl=30) is not None
            clock.advance(later(31))
            await anyio.sleep_forever()
            reached.append(True)

    with pytest.raises(LeaseLostError):
        await work()
    assert reached == []
    held = await b.holder("job")
    assert held is not None
    assert held.owner == "b"


async def test_a_lease_of_an_exited_process_on_this_host_is_taken_over_at_once(
    storage: Storage, other: Storage, clock: ManualClock
) -> None:
    exited = await anyio.run_process([sys.executable, "-c", "import os; print(os.getpid())"])
    pid = int(exited.stdout)
    dead_owner = f"{socket.gethostname()}:{pid}:0badc0de"
    assert process_gone(dead_owner)
    assert not process_gone(worker_id())  # this very process
    assert not process_gone(f"elsewhere:{pid}")  # another host: cannot tell
    dead = await Leases(storage, clock).acquire("job", owner=dead_owner, ttl=30)
    assert dead is not None
    taken = await Leases(other, clock).acquire("job", owner=worker_id(), ttl=30)
    assert taken is not None
    assert taken.epoch == dead.epoch + 1
    alive = await Leases(storage, clock).acquire("job", owner="elsewhere:1:x", ttl=30)
    assert alive is None  # the new owner's process runs: nothing to take over


async def test_a_connection_lost_mid_statement_is_a_storage_error(
    storage: Storage, clock: ManualClock
) -> None:
    # As when PostgreSQL restarts under a worker: its member sync and jobs retry on a
    # StorageError, and stopped the whole worker on the driver's own error.
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from botrt.storage import StorageError

    def cut(*_args: object) -> None:
        raise OperationalError("UPDATE botrt_lease", {}, ConnectionResetError("cut"))

    engine = storage.engine.sync_engine
    event.listen(engine, "before_cursor_execute", cut)
    try:
        with pytest.raises(StorageError, match=r"'job:1'.*in the middle of a statement"):
            await Leases(storage, clock).acquire("job:1", owner="a", ttl=30)
    finally:
        event.remove(engine, "before_cursor_execute", cut)
    assert await Leases(storage, clock).acquire("job:1", owner="a", ttl=30) is not None
