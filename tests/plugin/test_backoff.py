"""`Backoff`, the one backoff every retrying loop of botrt uses (VK, Long Poll, broadcast, host)."""

from __future__ import annotations

import math
import random

import pytest

from botrt._backoff import BackoffConfigError
from botrt.plugin import Backoff


def never_drawn() -> float:
    return 0.0


def test_ceilings_double_from_base_up_to_the_cap() -> None:
    backoff = Backoff(1.0, 30.0)
    assert [backoff.ceiling(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


@pytest.mark.parametrize("failures", [1025, 2000, 10**6, 10**18])
@pytest.mark.parametrize(("base", "cap"), [(1.0, 30.0), (0.0, 0.0), (0.05, 60.0), (1e300, 1e308)])
def test_any_run_of_failures_stays_capped(failures: int, base: float, cap: float) -> None:
    # `base * 2 ** (failures - 1)` raised OverflowError from failure ~1,025 on.
    backoff = Backoff(base, cap, jitter=1.0)
    assert backoff.ceiling(failures) == cap
    assert 0 <= backoff.delay(failures) <= cap


def test_a_base_above_the_cap_is_capped() -> None:
    assert Backoff(3600.0, 60.0).ceiling(1) == 60.0


def test_the_draw_decides_within_the_jitter_share() -> None:
    assert Backoff(1.0, 30.0, jitter=0.5, rand=never_drawn).delay(3) == 4.0
    assert Backoff(1.0, 30.0, jitter=0.5, rand=lambda: 0.5).delay(3) == 3.0
    assert Backoff(1.0, 30.0, jitter=1.0, rand=lambda: 0.75).delay(20) == 7.5
    assert Backoff(1.0, 30.0, jitter=0.0, rand=lambda: 0.75).delay(20) == 30.0


def test_delays_are_jittered_and_stay_in_range() -> None:
    backoff = Backoff(1.0, 30.0, jitter=0.5, rand=random.Random(7).random)
    delays = [backoff.delay(2000) for _ in range(1000)]
    assert all(15.0 <= d <= 30.0 for d in delays)
    assert len(set(delays)) == 1000
    assert min(delays) < 16.0
    assert max(delays) > 29.0


@pytest.mark.parametrize(
    ("base", "cap", "jitter", "match"),
    [
        (-1.0, 30.0, 0.5, "base"),
        (1.0, math.inf, 0.5, "cap"),
        (math.nan, 30.0, 0.5, "base"),
        (1.0, 30.0, 1.5, "jitter"),
    ],
)
def test_bad_settings_are_refused(base: float, cap: float, jitter: float, match: str) -> None:
    with pytest.raises(BackoffConfigError, match=match):
        Backoff(base, cap, jitter)
