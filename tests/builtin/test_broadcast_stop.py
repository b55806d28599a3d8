"""A broadcast's step in flight at a stop: finished within the grace, and nothing after it."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from botrt.testing import TestHost

pytestmark = pytest.mark.anyio

BROADCAST = Path(__file__).resolve().parents[2] / "plugins" / "broadcast"


async def sender_within_grace() -> Callable[..., Awaitable[Any]]:
    async with TestHost(plugins=[BROADCAST]) as host:
        namespace = host.host.runtime.plugins["broadcast"].namespace
        return sys.modules[f"{namespace}.sender"].within_grace  # type: ignore[no-any-return]


async def test_a_step_in_flight_is_cut_at_the_stop_deadline_not_its_own_grace() -> None:
    within_grace = await sender_within_grace()
    finished: list[str] = []

    async def work() -> None:
        await anyio.sleep(30)
        finished.append("work")

    # Its own grace is 20 s; the host's stop ends sooner, and so must the step.
    with anyio.fail_after(10), anyio.move_on_after(0.01):
        await within_grace(20.0, work, deadline=lambda: anyio.current_time() + 0.05)
    assert finished == []


async def test_after_a_cancellation_no_further_step_starts() -> None:
    within_grace = await sender_within_grace()
    steps: list[int] = []
    cancelled = anyio.Event()

    async def step(n: int) -> None:
        await cancelled.wait()  # the stop comes while this step is in flight
        steps.append(n)

    async def job() -> None:
        for n in range(5):
            await within_grace(10.0, step, n)

    async with anyio.create_task_group() as tg:
        tg.start_soon(job)
        await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
        cancelled.set()
    assert steps == [0]  # the step in flight finished; the job went no further
    with anyio.CancelScope() as scope:
        scope.cancel()
        await within_grace(10.0, step, 9)  # already cancelled: nothing starts
    assert steps == [0]
