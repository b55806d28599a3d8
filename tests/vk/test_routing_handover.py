"""Which inbox rows a cluster worker hands over again (docs/cluster.md): a row handed over
at an epoch the worker no longer holds (the partition lost and taken back between two
reads) cannot be marked handled (its mark is fenced), so it is handed over again at the
new epoch instead of staying in hand forever.
"""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace
from typing import Any

import pytest

from botrt.adapter import Event
from botrt.protocols.vk._routing import CallbackRouter
from botrt.storage._internal import LeaseTiming
from botrt.testing import ManualClock, MemoryEvent

pytestmark = pytest.mark.anyio

BOT, PART = "b", 3


def router() -> CallbackRouter:
    # Nothing is read or written: the rows are given, the events made by a stub platform.
    storage: Any = SimpleNamespace(lease_timing=LeaseTiming(), core=SimpleNamespace(lease=None))
    clock = ManualClock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    platform: Any = SimpleNamespace(
        event_of=lambda bot, update: MemoryEvent(update["text"], user_id=7),
        inbox=None,
        fence=None,
        adopt=None,
    )
    made = CallbackRouter(platform, storage, clock, [BOT], owner="w1", failover=5)
    assignment = made.assignments[BOT]
    assignment._until = float("inf")  # its leases held, by its own clock
    return made


async def hand_over(made: CallbackRouter, rows: list[tuple[int, str, str, int]]) -> list[str]:
    submitted: list[Event] = []

    async def submit(event: Event) -> None:
        submitted.append(event)

    assignment = made.assignments[BOT]
    await made._hand_over(BOT, assignment, made._taken[BOT], [PART], rows, submit)
    return [e.text for e in submitted]  # type: ignore[attr-defined]


async def test_a_row_in_hand_is_not_handed_over_twice_at_one_epoch() -> None:
    made = router()
    made.assignments[BOT].owned = {PART: 1}
    row = (10, "key-10", json.dumps({"text": "hi"}), PART)
    assert await hand_over(made, [row]) == ["hi"]
    assert await hand_over(made, [row]) == []  # still unhandled: still in hand


async def test_a_row_handed_over_before_the_partition_was_lost_and_taken_back_goes_again() -> None:
    made = router()
    made.assignments[BOT].owned = {PART: 1}
    row = (10, "key-10", json.dumps({"text": "hi"}), PART)
    assert await hand_over(made, [row]) == ["hi"]
    # Lost and taken back between two reads: the first hand-over's mark is fenced (epoch
    # 1), so the row still reads as unhandled and must be handled at epoch 2.
    made.assignments[BOT].owned = {PART: 2}
    assert await hand_over(made, [row]) == ["hi"]
    assert made._taken[BOT] == {10: (PART, 2)}
    assert await hand_over(made, [row]) == []


async def test_a_handled_row_leaves_the_hand() -> None:
    made = router()
    made.assignments[BOT].owned = {PART: 1}
    row = (10, "key-10", json.dumps({"text": "hi"}), PART)
    assert await hand_over(made, [row]) == ["hi"]
    assert await hand_over(made, []) == []  # read as handled: no longer in hand
    assert made._taken[BOT] == {}
