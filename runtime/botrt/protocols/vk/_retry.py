"""When and how long `VkApi` waits before trying a failed request again."""

from __future__ import annotations

import random
from dataclasses import dataclass

from botrt._backoff import Backoff
from botrt.protocols.vk._errors import VkConfigError

RETRYABLE_CODES: dict[int, float] = {6: 1.0, 9: 8.0, 10: 1.0}
"""VK error codes worth retrying, and how much longer than usual to back off.

6 (too many requests) and 10 (internal error) pass quickly; 9 (flood
control) means "you did too much of one thing", so hammering makes it worse.
"""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts and in time.

    Attributes:
        max_retries: retries after the first attempt.
        delay: the backoff ceiling of the first retry; it doubles each retry.
        max_delay: the largest ceiling (times the code's slowdown).
        max_time: no retry is started that would end after this many seconds
            from the first attempt.
    """

    max_retries: int = 4
    delay: float = 0.5
    max_delay: float = 8.0
    max_time: float = 60.0

    def __post_init__(self) -> None:
        """Check the settings.

        :raises VkConfigError: if any of them is negative.
        """
        if min(self.max_retries, self.delay, self.max_delay, self.max_time) < 0:
            raise VkConfigError(f"retry settings must not be negative: {self}")

    def backoff(self, attempt: int, slowdown: float, rng: random.Random) -> float:
        """Return how long to wait after failed attempt number `attempt` (from 1)."""
        # Full jitter: clients that failed together do not retry together.
        return Backoff(self.delay * slowdown, self.max_delay * slowdown, 1.0, rng.random).delay(
            attempt
        )

    def allows(self, attempt: int, elapsed: float, delay: float) -> bool:
        """Return whether another attempt may follow attempt `attempt` after `delay`."""
        return attempt <= self.max_retries and elapsed + delay <= self.max_time
