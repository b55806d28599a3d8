"""Replies that wait for the rate limiter together go out in one `execute` (issue 21, item 5).

VkApi's limiter runs on a `ManualTimer`, so "a slot comes free" is a step
the test takes; FakeVK records what reached it, request by request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked
from vkhelpers import TOKEN, ManualTimer

from botrt.protocols.vk import VkApi, VkApiError, VkError
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio


@pytest.fixture
def timer() -> ManualTimer:
    return ManualTimer()


@pytest.fixture
async def slow_api(vk: FakeVK, timer: ManualTimer) -> AsyncIterator[VkApi]:
    """A client whose limiter lets one request through per (manual) second."""
    async with VkApi(TOKEN, api_url=vk.api_url, rate_limit=1, timer=timer) as client:
        yield client


def texts_to(vk: FakeVK, peer: int) -> list[str]:
    return [m.text for m in vk.sent if m.peer_id == peer]


async def run_all(
    calls: list[Callable[[], Awaitable[Any]]], step: Callable[[], Awaitable[Any]]
) -> list[Any]:
    """Start `calls` in order, then `step` until every one has ended; their results or errors."""
    results: list[Any] = [None] * len(calls)

    async def one(i: int) -> None:
        try:
            results[i] = await calls[i]()
        except VkError as exc:
            results[i] = exc

    async with anyio.create_task_group() as tg:
        for i in range(len(calls)):
            tg.start_soon(one, i)
        await wait_all_tasks_blocked()
        await step()
    return results


async def test_a_lone_reply_goes_out_at_once_as_messages_send(
    vk: FakeVK, timer: ManualTimer
) -> None:
    async with VkApi(TOKEN, api_url=vk.api_url, rate_limit=20, timer=timer) as api:
        await api.messages.send(peer_id=5, message="hi", random_id=77)
        # Two at once still fit in the limiter: each goes on its own, no wait.
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: api.messages.send(peer_id=6, message="a"))
            tg.start_soon(lambda: api.messages.send(peer_id=7, message="b"))
        stats = api.stats
    assert dict(vk.calls) == {"messages.send": 3}
    assert [(m.peer_id, m.text) for m in vk.sent] == [(5, "hi"), (6, "a"), (7, "b")]
    assert vk.sent[0].random_id == 77
    assert timer.sleeps == []  # nothing waited, on the limiter or anywhere
    assert stats.limiter is not None
    assert stats.limiter.delayed == 0
    assert stats.coalesced == 0


async def test_replies_waiting_together_go_out_in_executes_of_25(
    vk: FakeVK, slow_api: VkApi, timer: ManualTimer
) -> None:
    await slow_api.messages.send(peer_id=1, message="first")  # takes the only slot
    calls = [
        (lambda i=i: slow_api.messages.send(peer_id=10 + i % 3, message=f"m{i}", random_id=500 + i))
        for i in range(30)
    ]

    async def two_slots() -> None:
        await timer.wake_next()  # 25 go in one execute
        await timer.wake_next()  # the last 5 in the next

    results = await run_all(calls, two_slots)
    assert dict(vk.calls) == {"messages.send": 1, "execute": 2}
    assert all(isinstance(r, int) for r in results)  # each its own message id
    assert len(set(results)) == 30
    for peer in (10, 11, 12):  # each conversation in the order its replies were made
        assert texts_to(vk, peer) == [f"m{i}" for i in range(30) if 10 + i % 3 == peer]
    by_text = {m.text: m.random_id for m in vk.sent}
    assert all(by_text[f"m{i}"] == 500 + i for i in range(30))
    assert slow_api.stats.coalesced == 30
    assert slow_api.stats.calls == {"messages.send": 31}


async def test_each_reply_gets_its_own_error(
    vk: FakeVK, slow_api: VkApi, timer: ManualTimer
) -> None:
    vk.block(21, 901)
    await slow_api.messages.send(peer_id=1, message="first")
    calls = [
        lambda: slow_api.messages.send(peer_id=20, message="ok 1"),
        lambda: slow_api.messages.send(peer_id=21, message="blocked"),
        lambda: slow_api.messages.send(peer_id=22, message="x" * 5000),
        lambda: slow_api.messages.send(peer_id=23, message="ok 2"),
    ]
    results = await run_all(calls, timer.wake_next)
    assert vk.calls["execute"] == 1
    assert isinstance(results[0], int)
    assert isinstance(results[3], int)
    assert isinstance(results[1], VkApiError)
    assert results[1].code == 901
    assert results[1].method == "messages.send"
    assert results[1].params["peer_id"] == 21
    assert isinstance(results[2], VkApiError)
    assert results[2].code == 914
    assert [m.text for m in vk.sent] == ["first", "ok 1", "ok 2"]
    assert slow_api.stats.errors == {901: 1, 914: 1}


async def test_a_failed_request_fails_each_of_its_replies(
    vk: FakeVK, slow_api: VkApi, timer: ManualTimer
) -> None:
    await slow_api.messages.send(peer_id=1, message="first")
    vk.fail_next("execute", vk_error=15)  # not retried: every call of it hears of it
    calls = [lambda p=p: slow_api.messages.send(peer_id=p, message="hi") for p in (30, 31, 32)]
    results = await run_all(calls, timer.wake_next)
    for peer, result in zip((30, 31, 32), results, strict=True):
        assert isinstance(result, VkApiError)
        assert (result.code, result.method, result.params["peer_id"]) == (
            15,
            "messages.send",
            peer,
        )
    assert [m.text for m in vk.sent] == ["first"]


async def test_a_reply_failing_with_10_inside_execute_is_retried(
    vk: FakeVK, slow_api: VkApi, timer: ManualTimer
) -> None:
    await slow_api.messages.send(peer_id=1, message="first")
    vk.block(41, 10)  # VK's internal error, for this one call only
    calls = [lambda p=p: slow_api.messages.send(peer_id=p, message=f"to {p}") for p in (40, 41)]

    async def slots_then_retry() -> None:
        await timer.wake_next()
        with anyio.fail_after(30):
            await vk.wait_for(lambda: vk.calls["execute"] == 1)
        await timer.wait_sleeping(1)  # the failed call's backoff
        vk.unblock(41)  # VK recovered
        timer.advance(10.0)  # the backoff is over, and a slot is free again

    results = await run_all(calls, slots_then_retry)
    assert all(isinstance(r, int) for r in results)
    assert [m.text for m in vk.sent] == ["first", "to 40", "to 41"]
    assert slow_api.stats.retries == {10: 1}


async def test_a_conversation_waits_while_its_earlier_reply_is_in_flight(
    vk: FakeVK, timer: ManualTimer
) -> None:
    # Two slots: the second request must not carry peer 50's later reply while the
    # first, with its earlier one, is still on its way (it could arrive first).
    async with VkApi(TOKEN, api_url=vk.api_url, rate_limit=2, timer=timer) as api:
        await api.messages.send(peer_id=1, message="a")  # one slot left: replies queue
        log: list[str] = []

        async def send(peer: int, text: str) -> None:
            await api.messages.send(peer_id=peer, message=text)
            log.append(text)

        async with anyio.create_task_group() as tg:
            tg.start_soon(send, 50, "50-1")
            tg.start_soon(send, 51, "51-1")
            await wait_all_tasks_blocked()
            vk.hold("execute")
            await timer.wake_next()  # the last slot: one execute with 50-1 and 51-1
            with anyio.fail_after(30):
                await vk.wait_for(lambda: vk.calls["execute"] == 1)  # held at VK
            tg.start_soon(send, 50, "50-2")
            tg.start_soon(send, 52, "52-1")
            await wait_all_tasks_blocked()
            await timer.wake_next()  # a's slot is free again: 52-1 goes, 50-2 may not
            with anyio.fail_after(30):
                await vk.wait_for(lambda: texts_to(vk, 52) == ["52-1"])
            assert texts_to(vk, 50) == []
            assert "50-2" not in log
            vk.release("execute")
            await timer.wake_next()  # the spacing between requests
            await timer.wake_next()  # a slot comes free
    assert texts_to(vk, 50) == ["50-1", "50-2"]
    assert log.index("50-1") < log.index("50-2")
    assert dict(vk.calls) == {"messages.send": 3, "execute": 1}


async def test_once_half_the_slots_are_spent_requests_are_spaced(
    vk: FakeVK, timer: ManualTimer
) -> None:
    async with VkApi(TOKEN, api_url=vk.api_url, rate_limit=4, timer=timer) as api:
        await api.messages.send(peer_id=1, message="a")
        await api.messages.send(peer_id=1, message="b")  # 2 of 4 slots spent
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: api.messages.send(peer_id=1, message="c"))
            assert await timer.wake_next() == pytest.approx(0.25)  # 1/rate_limit
    assert timer.sleeps == [pytest.approx(0.25)]
    assert [m.text for m in vk.sent] == ["a", "b", "c"]
    assert dict(vk.calls) == {"messages.send": 3}  # alone, it went as itself


async def test_a_cancelled_reply_is_not_sent(
    vk: FakeVK, slow_api: VkApi, timer: ManualTimer
) -> None:
    await slow_api.messages.send(peer_id=1, message="first")
    doomed = anyio.CancelScope()

    async def cancelled() -> None:
        with doomed:
            await slow_api.messages.send(peer_id=61, message="drop")

    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: slow_api.messages.send(peer_id=60, message="keep"))
        tg.start_soon(cancelled)
        await wait_all_tasks_blocked()
        doomed.cancel()
        await wait_all_tasks_blocked()
        await timer.wake_next()
    assert [m.text for m in vk.sent] == ["first", "keep"]
    assert dict(vk.calls) == {"messages.send": 2}  # the one left went on its own


async def test_closing_the_client_fails_waiting_replies(vk: FakeVK, timer: ManualTimer) -> None:
    api = VkApi(TOKEN, api_url=vk.api_url, rate_limit=1, timer=timer)
    await api.messages.send(peer_id=1, message="first")
    failures: list[BaseException] = []

    async def waiting() -> None:
        try:
            await api.messages.send(peer_id=70, message="never")
        except VkError as exc:
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiting)
        await wait_all_tasks_blocked()
        await api.close()
    assert len(failures) == 1
    assert "closed" in str(failures[0])
    assert [m.text for m in vk.sent] == ["first"]


async def test_coalesce_off_sends_each_reply_on_its_own(vk: FakeVK, timer: ManualTimer) -> None:
    async with VkApi(TOKEN, api_url=vk.api_url, rate_limit=1, timer=timer, coalesce=False) as api:
        await api.messages.send(peer_id=1, message="first")
        calls = [lambda p=p: api.messages.send(peer_id=p, message="hi") for p in (80, 81)]

        async def slots() -> None:
            await timer.wake_next()
            await timer.wake_next()

        await run_all(calls, slots)
    assert dict(vk.calls) == {"messages.send": 3}
