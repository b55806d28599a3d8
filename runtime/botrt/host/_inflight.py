"""Events in flight, counted per epoch: what a swap's drain step waits for.

Each event is counted in when it starts and out when it ends (the host's
per-event path); a swap starts a new epoch and waits until the events of the
epochs before it are done.
"""

from __future__ import annotations

import anyio


class InFlight:
    """Events counted per epoch: a swap waits for the events of the epochs before its own."""

    def __init__(self) -> None:
        self.epoch = 0
        # A plain dict, not a Counter: Counter's Python-level __missing__ and
        # __delitem__ would run on every event.
        self._counts: dict[int, int] = {}
        self._drained = anyio.Event()
        self._waiting = 0  # per-event signalling only while a swap waits

    def started(self) -> int:
        """Count an event in; returns its epoch for `finished`."""
        epoch = self.epoch
        counts = self._counts
        counts[epoch] = counts.get(epoch, 0) + 1
        return epoch

    def finished(self, epoch: int) -> None:
        """Count an event out."""
        left = self._counts[epoch] - 1
        if left:
            self._counts[epoch] = left
        else:
            del self._counts[epoch]
            if self._waiting:
                # Set and replaced only here: every waiter of this generation wakes.
                drained, self._drained = self._drained, anyio.Event()
                drained.set()

    def advance(self) -> int:
        """Start a new epoch; returns it."""
        self.epoch += 1
        return self.epoch

    async def wait_before(self, epoch: int) -> None:
        """Wait until no event that started before `epoch` is still running."""
        while any(e < epoch for e in self._counts):
            self._waiting += 1
            try:
                await self._drained.wait()
            finally:
                self._waiting -= 1
