"""`Backoff`: how long to wait after the n-th failure in a row, capped and jittered."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from botrt._errors import BotrtError


class BackoffConfigError(BotrtError, ValueError):
    """A `Backoff` was given a negative or infinite delay, or a jitter outside 0..1."""


def _fresh_random() -> Callable[[], float]:
    return random.Random().random


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with a cap and jitter, for any loop that retries.

    After failure `n` (counted from 1) the ceiling is ``base * 2 ** (n - 1)``,
    never more than `cap`, however many failures come in a row; the wait is
    drawn at random between ``ceiling * (1 - jitter)`` and the ceiling, so
    clients that failed together do not retry together.

    Attributes:
        base: the ceiling after the first failure, in seconds.
        cap: the largest ceiling, in seconds.
        jitter: the share of the ceiling left to chance: 1 draws from the
            whole range ("full jitter"), 0.5 from its upper half, 0 never
            draws (the wait is the ceiling).
        rand: a source of floats in ``[0, 1)``; tests pass their own.
    """

    base: float
    cap: float
    jitter: float = 0.5
    rand: Callable[[], float] = field(default_factory=_fresh_random, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the settings.

        :raises BackoffConfigError: if `base` or `cap` is negative or not
            finite, or `jitter` is outside 0..1.
        """
        for name, value in (("base", self.base), ("cap", self.cap)):
            if not (math.isfinite(value) and value >= 0):
                raise BackoffConfigError(
                    f"backoff {name} must be a finite number of seconds >= 0, got {value!r}"
                )
        if not 0 <= self.jitter <= 1:
            raise BackoffConfigError(f"backoff jitter must be between 0 and 1, got {self.jitter!r}")

    def ceiling(self, failures: int) -> float:
        """The longest wait after `failures` failures in a row (at least 1)."""
        doublings = max(0, failures - 1)
        if self.base == 0 or self.base >= self.cap:
            return min(self.base, self.cap)
        # Past log2(cap / base) doublings the cap wins; stopping there keeps the
        # power small, where `2 ** failures` would overflow a float after ~1,024.
        if doublings >= math.log2(self.cap / self.base):
            return self.cap
        return min(self.cap, self.base * 2.0**doublings)

    def delay(self, failures: int) -> float:
        """How long to wait after `failures` failures in a row (at least 1), jitter drawn."""
        ceiling = self.ceiling(failures)
        return ceiling - ceiling * self.jitter * self.rand()
