"""A bounded, expiring memory of ids already seen."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class RecentKeys:
    """Remembers keys for `ttl` seconds, at most `max_size` of them.

    When full, the oldest key is forgotten first, so memory stays bounded
    even under a flood of distinct ids.
    """

    def __init__(
        self, ttl: float, max_size: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Create an empty memory.

        :raises ValueError: if `ttl` is negative or `max_size` is less than 1.
        """
        if ttl < 0 or max_size < 1:
            raise ValueError(f"need ttl >= 0 and max_size >= 1, got {ttl}, {max_size}")
        self.ttl = ttl
        self.max_size = max_size
        self._clock = clock
        self._seen: OrderedDict[Hashable, float] = OrderedDict()

    def check_and_add(self, key: Hashable) -> bool:
        """Return True if `key` was seen within `ttl`; otherwise remember it and return False."""
        now = self._clock()
        while self._seen:
            oldest, when = next(iter(self._seen.items()))
            if now - when < self.ttl:
                break
            del self._seen[oldest]
        if key in self._seen:
            return True
        self._seen[key] = now
        if len(self._seen) > self.max_size:
            self._seen.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._seen)
