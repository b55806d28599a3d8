"""The intake on its own: its two handles, without a host around them."""

from __future__ import annotations

import asyncio

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from botrt.adapter import Event
from botrt.host._intake import open_intake
from botrt.host._lanes import _IDLE_WORKERS
from botrt.testing import MemoryEvent

pytestmark = pytest.mark.anyio


async def test_send_nowait_refuses_when_full_and_statistics_count_the_queue() -> None:
    handled: list[Event] = []

    async def handle(event: Event) -> None:
        handled.append(event)

    sender, _worker = open_intake(handle, max_queue=2, max_pending=1)
    sender.send_nowait(MemoryEvent("a", user_id=1))
    sender.send_nowait(MemoryEvent("b", user_id=2))
    with pytest.raises(anyio.WouldBlock):
        sender.send_nowait(MemoryEvent("c", user_id=3))
    sender.push(MemoryEvent("scheduled", user_id=4))  # past the bound, never waits
    stats = sender.statistics()
    assert (stats.queued, stats.running, stats.closed) == (3, 0, False)
    assert sender.busy(MemoryEvent("later", user_id=2))
    assert not sender.busy(MemoryEvent("other", user_id=9))
    sender.close()
    with pytest.raises(anyio.ClosedResourceError):
        sender.send_nowait(MemoryEvent("late"))
    assert handled == []


async def test_the_worker_drains_in_lanes_then_ends() -> None:
    gate = anyio.Event()
    handled: list[str] = []

    async def handle(event: Event) -> None:
        await gate.wait()
        handled.append(event.text)  # type: ignore[attr-defined]

    sender, worker = open_intake(handle, max_queue=10, max_pending=2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        await wait_all_tasks_blocked()
        for text, user in (("a1", 1), ("b1", 2), ("a2", 1), ("c1", 3)):
            await sender.send(MemoryEvent(text, user_id=user))
        await wait_all_tasks_blocked()
        stats = sender.statistics()
        # a1 and b1 hold the two slots; the worker holds a2 until one frees; c1 is queued.
        assert (stats.running, stats.lanes, stats.queued) == (2, 2, 1)
        sender.close()
        gate.set()
        with anyio.fail_after(30):
            await worker.wait_drained()
    assert handled.index("a1") < handled.index("a2")
    assert sorted(handled) == ["a1", "a2", "b1", "c1"]


async def test_events_of_idle_conversations_take_no_task_each() -> None:
    # One event at a time, each of another conversation: a waiting worker is woken
    # for each, so every event runs in the same task (none is started per event).
    tasks: list[asyncio.Task[object] | None] = []
    done: list[asyncio.Future[None]] = []

    async def handle(event: Event) -> None:
        tasks.append(asyncio.current_task())
        done[-1].set_result(None)

    sender, worker = open_intake(handle, max_queue=10, max_pending=4)
    loop = asyncio.get_running_loop()
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        await wait_all_tasks_blocked()
        for user in range(20):
            done.append(loop.create_future())
            await sender.send(MemoryEvent("hi", user_id=user))
            await done[-1]
        sender.close()
        with anyio.fail_after(30):
            await worker.wait_drained()
    assert len(tasks) == 20
    assert len(set(tasks)) == 1


async def test_a_burst_runs_conversations_at_once_and_leaves_few_workers() -> None:
    gate = anyio.Event()
    running: set[int] = set()
    most = [0]

    async def handle(event: Event) -> None:
        running.add(event.user_id)  # type: ignore[attr-defined]
        most[0] = max(most[0], len(running))
        await gate.wait()
        running.discard(event.user_id)  # type: ignore[attr-defined]

    sender, worker = open_intake(handle, max_queue=50, max_pending=12)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        await wait_all_tasks_blocked()
        before = len(asyncio.all_tasks())
        for user in range(12):
            await sender.send(MemoryEvent("hi", user_id=user))
        await wait_all_tasks_blocked()
        assert most[0] == 12  # every conversation runs at once, one worker each
        gate.set()
        await wait_all_tasks_blocked()
        assert sender.statistics().running == 0
        # The burst's workers leave but a few, which wait for the next lanes.
        assert len(asyncio.all_tasks()) - before == _IDLE_WORKERS
        sender.close()
        with anyio.fail_after(30):
            await worker.wait_drained()
    assert running == set()
