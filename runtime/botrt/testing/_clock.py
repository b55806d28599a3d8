"""`ManualClock`: time that only the test moves, for schedules and plugins that wait."""

from __future__ import annotations

import datetime as dt

import anyio

WAIT_LIMIT = 10.0
"""Seconds `ManualClock.wait_sleeping` waits before it fails the test."""


class ManualClock:
    """A `botrt.plugin.Clock` that stands still until the test calls `advance`.

    Give it to ``TestHost(clock=...)`` (or set ``host.info.clock`` before
    ``host.start()``): the scheduler and every plugin that waits through
    `BotInfo.sleep_until` then run on it. A sleeper wakes as soon as
    `advance` reaches its moment, or when its own wake event is set.
    `wait_sleeping` lets a test wait until the plugin is actually waiting,
    so no sleep is needed in the test either.

    Attributes:
        moment: the current time (timezone-aware).
        sleepers: ``(moment, event)`` for every task sleeping on this clock.
    """

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start, e.g. tzinfo=datetime.UTC")
        self.moment = start
        self.sleepers: list[tuple[dt.datetime | None, anyio.Event]] = []
        self._changed = anyio.Event()

    def now(self) -> dt.datetime:
        """The time the test set last."""
        return self.moment

    async def sleep_until(self, moment: dt.datetime | None, wake: anyio.Event) -> None:
        """Return once `advance` reaches `moment` (never, when None), or `wake` is set."""
        if moment is not None and moment <= self.moment:
            return
        due = anyio.Event()
        entry = (moment, due)
        self.sleepers.append(entry)
        self._notify()
        try:
            async with anyio.create_task_group() as tg:

                async def relay() -> None:
                    await wake.wait()
                    due.set()

                tg.start_soon(relay)
                await due.wait()
                tg.cancel_scope.cancel()
        finally:
            self.sleepers.remove(entry)
            self._notify()

    def advance(self, to: dt.datetime) -> None:
        """Set the time to `to` and wake every sleeper whose moment has come.

        :raises ValueError: if `to` is earlier than the current time.
        """
        if to < self.moment:
            raise ValueError(f"ManualClock cannot go back: {to} is before {self.moment}")
        self.moment = to
        for moment, due in self.sleepers:
            if moment is not None and moment <= to:
                due.set()

    async def wait_sleeping(self, count: int) -> None:
        """Wait until exactly `count` tasks sleep on this clock.

        :raises TimeoutError: if that has not happened after `WAIT_LIMIT` seconds
            (a plugin that never waits would otherwise hang the test).
        """
        with anyio.fail_after(WAIT_LIMIT):
            while len(self.sleepers) != count:
                await self._changed.wait()

    async def wait_settled(self, count: int) -> None:
        """Wait until exactly `count` tasks sleep on this clock, none of them due any more.

        After an `advance`, the sleepers it woke are still listed until they
        run; this waits until they have done their work and slept again.

        :raises TimeoutError: if that has not happened after `WAIT_LIMIT` seconds.
        """
        with anyio.fail_after(WAIT_LIMIT):
            while len(self.sleepers) != count or any(
                moment is not None and moment <= self.moment for moment, _ in self.sleepers
            ):
                await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()
