"""Which notifications wake a cluster worker's reading of its partitions (issue 17): only
those of partitions it owns, so an update costs one read, by its owner, however many
workers listen. The database side (the trigger's payload) runs in test_cluster_callback.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from botrt.protocols.vk._routing import CallbackRouter
from botrt.storage._internal import LeaseTiming
from botrt.testing import ManualClock

pytestmark = pytest.mark.anyio


def router() -> CallbackRouter:
    # Nothing is read or written here: only what the constructors look at.
    storage: Any = SimpleNamespace(lease_timing=LeaseTiming(), core=SimpleNamespace(lease=None))
    clock = ManualClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    made = CallbackRouter(None, storage, clock, ["b/x", "c"], owner="w1", failover=5)  # type: ignore[arg-type]
    made.assignments["b/x"].owned = {3: 1}
    return made


async def test_a_notification_wakes_only_the_owner_of_its_partition() -> None:
    made = router()
    wake = made._wakes["b/x"]
    made._notified("b/x/4")  # another worker's partition
    made._notified("c/3")  # another bot
    assert not wake.is_set()
    made._notified("b/x/3")
    assert wake.is_set()


async def test_an_update_recorded_here_wakes_this_worker_only_when_not_listening() -> None:
    made = router()
    made._listening = True
    made.arrived("b/x")  # its notification wakes the owner, whichever worker that is
    assert not made._wakes["b/x"].is_set()
    made._listening = False
    made.arrived("b/x")
    assert made._wakes["b/x"].is_set()
