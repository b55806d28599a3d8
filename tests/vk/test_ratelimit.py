"""The rate limiter alone, and VkApi under a burst against FakeVK's per-token limit."""

from __future__ import annotations

import functools

import anyio
import pytest
from vkhelpers import TOKEN

from botrt.protocols.vk import RateLimiter, VkApi, VkConfigError
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio


async def test_limiter_allows_a_burst_then_one_window_per_period() -> None:
    limiter = RateLimiter(40, margin=0)
    times: list[float] = []

    async def one() -> None:
        await limiter.acquire()
        times.append(anyio.current_time())

    start = anyio.current_time()
    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(one)
    times.sort()
    assert times[39] - start < 0.5  # the first 40 go at once
    # Never more than 40 in any window of one second.
    assert all(times[i + 40] - times[i] >= 1.0 - 1e-3 for i in range(len(times) - 40))
    stats = limiter.statistics()
    assert stats.acquired == 50
    assert stats.delayed >= 1
    assert stats.waited >= 0.9


async def test_limiter_below_one_per_second_spaces_single_requests() -> None:
    limiter = RateLimiter(5, margin=0)
    assert (limiter.burst, limiter.period) == (5, 1.0)
    slow = RateLimiter(0.5, margin=0)
    assert (slow.burst, slow.period) == (1, 2.0)


async def test_cancelled_waiter_spends_nothing() -> None:
    limiter = RateLimiter(1, margin=0)
    await limiter.acquire()
    with anyio.move_on_after(0.05):
        await limiter.acquire()
    assert limiter.statistics().acquired == 1


@pytest.mark.parametrize("rate", [0, -1, float("inf"), float("nan")])
def test_bad_rates_are_refused(rate: float) -> None:
    with pytest.raises(VkConfigError, match="rate_limit"):
        RateLimiter(rate)


async def test_burst_of_calls_stays_under_vk_limit(vk: FakeVK) -> None:
    vk.rate_limit = 50
    results: list[object] = []
    async with VkApi(TOKEN, api_url=vk.api_url, rate_limit=50) as api:

        async def one(i: int) -> None:
            results.append(await api.users.get(user_ids=i + 1))

        start = anyio.current_time()
        async with anyio.create_task_group() as tg:
            for i in range(120):
                tg.start_soon(one, i)
        elapsed = anyio.current_time() - start
        stats = api.stats
    assert len(results) == 120
    assert stats.errors == {}
    # Every call was answered exactly once; the only extra requests are
    # retries of an error 6, which network jitter can cause when a request
    # reaches VK late (the limiter itself never lets 51 go within a second).
    assert vk.rate_limited <= 5  # without the limiter: 70 and more
    assert vk.calls["users.get"] == 120 + vk.rate_limited
    assert stats.retries.get(6, 0) == vk.rate_limited
    assert set(stats.retries) <= {6}
    assert elapsed >= 2.0  # 50 at once, 50 a second later, 20 a second after that


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
