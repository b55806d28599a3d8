"""broadcast's wait between retries of a batch: capped and jittered, however long VK is away."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from botrt.testing import TestHost

pytestmark = pytest.mark.anyio

BROADCAST = Path(__file__).parents[2] / "plugins" / "broadcast"


async def test_retry_waits_stay_capped_after_thousands_of_failures() -> None:
    async with TestHost(plugins=[BROADCAST]) as host:
        namespace = host.host.runtime.plugins["broadcast"].namespace
        sender = sys.modules[f"{namespace}.sender"]
        cap = sender.MAX_RETRY_DELAY
        # `base * 2 ** (attempt - 1)` overflowed a float from attempt ~1,025 on.
        late = [sender.backoff(1.0, attempt) for attempt in range(1, 2001)]
        assert all(0 < d <= cap for d in late)
        assert all(cap / 2 <= d for d in late[10:])
        assert len(set(late[10:])) > 1900  # jittered: stopped jobs do not retry together
        assert 0.5 <= sender.backoff(1.0, 1) <= 1.0
        assert sender.backoff(0.0, 2000) == 0.0  # `retry_delay = 0`: no wait at all
        assert cap / 2 <= sender.backoff(3600.0, 1) <= cap  # a base above the cap is capped
