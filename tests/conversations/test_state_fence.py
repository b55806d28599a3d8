"""The fenced writes of durable conversation states (`StateRows` with a lease as `fence`),
on both engines: a worker whose lease was taken over writes nothing, the new holder's
writes go through (docs/cluster.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from botrt.storage import Leases, Storage
from botrt.storage._internal import StateRows
from botrt.testing import ManualClock

pytestmark = pytest.mark.anyio

KEY = ("b", 7, 7)
LEASE = "route:b:p3"


async def rows(storage: Storage) -> list[tuple[str, str, float]]:
    return [(state, data, at) for _, _, state, data, at in await StateRows(storage).load(0.0)]


async def test_a_lost_lease_fences_every_state_write(storage: Storage) -> None:
    clock = ManualClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    leases, states = Leases(storage, clock), StateRows(storage)
    old = await leases.acquire(LEASE, owner="A", ttl=10)
    assert old is not None
    assert await states.put(KEY, "p", "first", "{}", 100.0, old)

    clock.advance(clock.now() + dt.timedelta(seconds=11))  # A's lease ran out unrenewed
    new = await leases.acquire(LEASE, owner="B", ttl=10)
    assert new is not None
    assert new.epoch > old.epoch
    assert await states.put(KEY, "p", "second", '{"n":2}', 200.0, new)

    assert not await states.put(KEY, "p", "late", "{}", 300.0, old)
    assert not await states.touch(KEY, ["p"], 400.0, old)
    assert not await states.delete(KEY, ["p"], old)
    assert await rows(storage) == [("second", '{"n":2}', 200.0)]

    assert await states.touch(KEY, ["p"], 250.0, new)
    assert await rows(storage) == [("second", '{"n":2}', 250.0)]
    assert await states.delete(KEY, ["p"], new)
    assert await rows(storage) == []


async def test_a_lease_taken_back_by_its_old_owner_still_fences_the_old_epoch(
    storage: Storage,
) -> None:
    clock = ManualClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    leases, states = Leases(storage, clock), StateRows(storage)
    old = await leases.acquire(LEASE, owner="A", ttl=10)
    assert old is not None
    await leases.release(old)
    again = await leases.acquire(LEASE, owner="A", ttl=10)
    assert again is not None
    assert again.epoch > old.epoch
    assert not await states.put(KEY, "p", "stale", "{}", 100.0, old)
    assert await rows(storage) == []
    assert await states.put(KEY, "p", "fresh", "{}", 100.0, again)
    assert await rows(storage) == [("fresh", "{}", 100.0)]
