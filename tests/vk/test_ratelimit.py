"""The rate limiter alone (on a timer the test moves), and VkApi under a burst against FakeVK."""

from __future__ import annotations

import functools

import anyio
import pytest
from anyio import wait_all_tasks_blocked
from vkhelpers import TOKEN, ManualTimer

from botrt.protocols.vk import RateLimiter, VkApi, VkConfigError, VkError
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio


async def test_limiter_allows_a_burst_then_one_window_per_period() -> None:
    timer = ManualTimer()
    start = timer.now()
    limiter = RateLimiter(40, margin=0, timer=timer)
    times: list[float] = []

    async def one() -> None:
        async with limiter.slot():
            times.append(timer.now())

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(one)
        await timer.wait_sleeping(1)  # the 41st waits for a slot, the rest behind it
        await wait_all_tasks_blocked()
        assert times == [start] * 40
        timer.advance(0.999)
        await wait_all_tasks_blocked()
        assert len(times) == 40
        timer.advance(0.001)
    assert times == [start] * 40 + [start + 1.0] * 10
    stats = limiter.statistics()
    assert (stats.acquired, stats.delayed) == (50, 10)
    assert stats.waited == pytest.approx(10.0)  # timer seconds: each of 10 waited 1


async def test_a_slot_is_held_until_the_answer_and_free_one_period_later() -> None:
    # VK counts a request when it arrives, at some point before its answer: a
    # request that travels slowly must not let the next window's start early.
    timer = ManualTimer()
    limiter = RateLimiter(2, margin=0, timer=timer)
    await limiter.acquire()
    await limiter.acquire()
    got: list[float] = []

    async def third() -> None:
        await limiter.acquire()
        got.append(timer.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(third)
        timer.advance(5.0)  # both still in flight: no slot came free
        await wait_all_tasks_blocked()
        assert got == []
        limiter.release()  # answered at 1005: that slot is free at 1006
        await timer.wait_sleeping(1)
        assert got == []
        timer.advance(1.0)
    assert got == [1006.0]


async def test_limiter_below_one_per_second_spaces_single_requests() -> None:
    limiter = RateLimiter(5, margin=0)
    assert (limiter.burst, limiter.period) == (5, 1.0)
    slow = RateLimiter(0.5, margin=0)
    assert (slow.burst, slow.period) == (1, 2.0)


async def test_cancelled_waiter_spends_nothing() -> None:
    timer = ManualTimer()
    limiter = RateLimiter(1, margin=0, timer=timer)
    async with limiter.slot():
        pass
    async with anyio.create_task_group() as tg:
        tg.start_soon(limiter.acquire)
        await timer.wait_sleeping(1)
        tg.cancel_scope.cancel()
    assert limiter.statistics().acquired == 1
    timer.advance(1.0)
    async with limiter.slot():  # the slot the cancelled waiter wanted is free
        pass
    assert limiter.statistics().acquired == 2


async def test_a_lowered_rate_lets_no_burst_through_while_slots_are_held() -> None:
    # A cluster worker's share drops from 4/s to 2/s (a second worker joined) while
    # its 4 slots are held: 2 in flight, 2 released and cooling.
    timer = ManualTimer()
    limiter = RateLimiter(4, margin=0, timer=timer)
    for _ in range(4):
        await limiter.acquire()
    limiter.release()
    limiter.release()  # released at 1000: free at 1001 under either rate
    limiter.set_rate(2)
    assert (limiter.rate, limiter.burst, limiter.period, limiter.spacing) == (2, 2, 1.0, 0.5)
    assert limiter.free() == 0
    got: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        got.append(timer.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(one)
        tg.start_soon(one)
        await timer.wait_sleeping(1)
        timer.advance(1.0)  # both cooled: still 2 in flight, the new burst
        await wait_all_tasks_blocked()
        assert got == []
        assert not limiter.try_acquire()
        limiter.release()  # the first of the old requests in flight is answered at 1001
        await timer.wait_sleeping(1)
        assert got == []  # its slot cools for a period first
        timer.advance(1.0)
        await wait_all_tasks_blocked()
        assert got == [1002.0]  # one slot: the other is still in flight
        limiter.release()  # the second answered at 1002
        timer.advance(1.0)
    assert got == [1002.0, 1003.0]


async def test_a_lowered_rate_with_a_longer_period_keeps_cooling_slots_longer() -> None:
    timer = ManualTimer()
    limiter = RateLimiter(1, margin=0, timer=timer)
    async with limiter.slot():
        pass  # released at 1000: free at 1001 at 1/s
    limiter.set_rate(0.5)  # one per 2 s: that slot is free at 1002
    assert (limiter.burst, limiter.period) == (1, 2.0)
    timer.advance(1.0)
    assert not limiter.try_acquire()
    timer.advance(1.0)
    assert limiter.try_acquire()


async def test_a_raised_rate_frees_capacity_at_once() -> None:
    timer = ManualTimer()
    limiter = RateLimiter(2, margin=0, timer=timer)
    await limiter.acquire()
    await limiter.acquire()
    limiter.release()  # cooling until 1001
    got: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        got.append(timer.now())

    async with anyio.create_task_group() as tg:
        tg.start_soon(one)  # sleeps until the cooling slot frees
        tg.start_soon(one)
        await timer.wait_sleeping(1)
        limiter.set_rate(4)  # a worker left: two more slots now
        await wait_all_tasks_blocked()
        assert got == [1000.0, 1000.0]
    assert limiter.free() == 0  # 3 held + 1 cooling of 4
    assert limiter.statistics().delayed == 0  # no time passed while they waited


async def test_a_raised_rate_wakes_a_waiter_whom_every_slot_in_flight_keeps_waiting() -> None:
    timer = ManualTimer()
    limiter = RateLimiter(1, margin=0, timer=timer)
    await limiter.acquire()
    async with anyio.create_task_group() as tg:
        tg.start_soon(limiter.acquire)
        await wait_all_tasks_blocked()
        assert limiter.free() == 0
        limiter.set_rate(2)
    assert limiter.statistics().acquired == 2


@pytest.mark.parametrize("rate", [0, -1, float("inf")])
def test_a_bad_new_rate_is_refused_and_changes_nothing(rate: float) -> None:
    limiter = RateLimiter(3)
    with pytest.raises(VkConfigError, match="rate_limit"):
        limiter.set_rate(rate)
    assert (limiter.rate, limiter.burst) == (3, 3)


def test_release_without_acquire_is_refused() -> None:
    with pytest.raises(VkError, match="without a matching acquire"):
        RateLimiter(1).release()


@pytest.mark.parametrize("rate", [0, -1, float("inf"), float("nan")])
def test_bad_rates_are_refused(rate: float) -> None:
    with pytest.raises(VkConfigError, match="rate_limit"):
        RateLimiter(rate)


async def test_burst_of_calls_stays_under_vk_limit(vk: FakeVK) -> None:
    # FakeVK counts each request when its handler runs, in the same process and
    # on the same monotonic clock: however late the loop runs either side, VK's
    # window must never see more than the limit.
    vk.rate_limit = 50
    results: list[object] = []
    async with VkApi(TOKEN, api_url=vk.api_url, rate_limit=50) as api:

        async def one(i: int) -> None:
            results.append(await api.users.get(user_ids=i + 1))

        async with anyio.create_task_group() as tg:
            for i in range(120):
                tg.start_soon(one, i)
        stats = api.stats
    assert len(results) == 120
    assert vk.rate_limited == 0  # without the limiter: 70 and more
    assert vk.calls["users.get"] == 120
    assert stats.errors == {}
    assert stats.retries == {}
    assert stats.limiter is not None
    # 50 go at once; each of the other 70 waits for a slot to come free.
    assert (stats.limiter.acquired, stats.limiter.delayed) == (120, 70)


async def test_error_6_from_vk_is_retried(vk: FakeVK) -> None:
    # A client that believes it may go faster than VK allows (another process
    # sharing the token, say) gets error 6 and recovers by backing off.
    async with VkApi(
        TOKEN,
        api_url=vk.api_url,
        rate_limit=1000,
        max_retries=30,
        retry_delay=0.02,
        max_retry_delay=0.2,
    ) as api:
        async with anyio.create_task_group() as tg:
            for i in range(25):
                tg.start_soon(functools.partial(api.users.get, user_ids=i + 1))
        stats = api.stats
    assert vk.rate_limited > 0
    assert stats.retries[6] == vk.rate_limited
    assert stats.errors == {}
