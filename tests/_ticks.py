"""A scheduled flow for the tests of schedule slots: `Tick`, `minute` and `first_seen`."""

from __future__ import annotations

import datetime as dt

import anyio

from botrt.adapter import ScheduleEvent
from botrt.handle import Flow, on_schedule
from botrt.testing import TestHost


def minute(n: int, second: int = 0) -> dt.datetime:
    """08:`n`:`second` UTC on the day of the tests' slots."""
    return dt.datetime(2026, 11, 23, 8, n, second, tzinfo=dt.UTC)


class Tick:
    """A scheduled flow that records its runs and waits for `gate` in the middle."""

    def __init__(self) -> None:
        self.started: list[dt.datetime] = []
        self.finished: list[dt.datetime] = []
        self.running = anyio.Event()
        self.gate = anyio.Event()

        @on_schedule(every="1m")
        async def tick(event: ScheduleEvent) -> None:
            self.started.append(event.scheduled_for)
            self.running.set()
            await self.gate.wait()
            self.finished.append(event.scheduled_for)

        self.flow: Flow = tick


async def first_seen(url: str, tick: Tick) -> None:
    """A first start before 08:00: the schedule owes the 08:00 slot from then on."""
    config = {"storage": {"url": url}, "bot": {"timezone": "UTC"}}
    async with TestHost(flows=[tick.flow], config=config) as h:
        assert await h.host.scheduler.run_due(minute(0) - dt.timedelta(seconds=30)) == []
