"""Scheduled flows: exactly once per slot, restarts, grace, several processes, reloads."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from pathlib import Path

import anyio
import pytest

from botrt.handle import ScheduleError, on_schedule
from botrt.handle._schedule import parse_schedule
from botrt.plugin import PluginLoadError
from botrt.testing import TestHost

pytestmark = pytest.mark.anyio

MSK = zoneinfo.ZoneInfo("Europe/Moscow")

PLUGIN = """
from botrt import PluginPlanner
from botrt.adapter import ScheduleEvent
from botrt.handle import on_schedule
from botrt.plugin import Messenger

PLUGIN = PluginPlanner(version="{version}")


@PLUGIN.use
@on_schedule(at="{at}", days="mon-fri", tz="Europe/Moscow")
async def morning(event: ScheduleEvent, messenger: Messenger) -> None:
    await messenger.send(event.bot, 1, f"{version} " + event.scheduled_for.strftime("%a %H:%M"))
"""


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    """November 2026 in Moscow: the 23rd is a Monday."""
    return dt.datetime(2026, 11, day, hour, minute, second, tzinfo=MSK)


def write(folder: Path, *, at: str = "08:00", version: str = "1") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__plugin__.py").write_text(PLUGIN.format(at=at, version=version), encoding="utf-8")
    return folder


def host(plugin: Path, url: str) -> TestHost:
    return TestHost(plugins=[plugin], config={"storage": {"url": url}})


async def test_a_slot_fires_once(tmp_path: Path) -> None:
    plugin = write(tmp_path / "morning")
    async with host(plugin, f"sqlite:///{tmp_path / 'bot.db'}") as h:
        scheduler = h.host.scheduler
        assert await scheduler.run_due(at(23, 7, 59)) == []
        (event,) = await scheduler.run_due(at(23, 8, 0))
        assert event.late == dt.timedelta(0)
        assert await scheduler.run_due(at(23, 8, 0, 30)) == []
        assert h.outbound.to(1) == ["1 Mon 08:00"]
        # Not on Saturday; again on Monday.
        assert await scheduler.run_due(at(28, 8, 0)) == []
        await scheduler.run_due(at(30, 8, 0))
        assert h.outbound.to(1) == ["1 Mon 08:00", "1 Mon 08:00"]


async def test_restarts_neither_repeat_nor_silently_skip(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plugin = write(tmp_path / "morning")
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    async with host(plugin, url) as h:
        await h.host.scheduler.run_due(at(23, 7, 0))  # first seen: nothing owed yet
        await h.host.scheduler.run_due(at(23, 8, 0))
    async with host(plugin, url) as h:  # restarted after the slot ran
        assert await h.host.scheduler.run_due(at(23, 8, 3)) == []
    async with host(plugin, url) as h:  # down over Tuesday's slot, back within the grace
        with caplog.at_level(logging.WARNING, logger="botrt.schedule"):
            (event,) = await h.host.scheduler.run_due(at(24, 8, 5))
        assert event.late == dt.timedelta(minutes=5)
        assert "running the 2026-11-24T08:00+03:00 slot late, by 5 min" in caplog.text
        assert await h.host.scheduler.run_due(at(24, 8, 6)) == []
        assert h.outbound.to(1) == ["1 Tue 08:00"]
    caplog.clear()
    async with host(plugin, url) as h:  # down over Wednesday's slot for too long
        with caplog.at_level(logging.WARNING, logger="botrt.schedule"):
            assert await h.host.scheduler.run_due(at(25, 8, 30)) == []
        assert "skipped the 2026-11-25T08:00+03:00 slot, missed by 30 min" in caplog.text
        assert h.outbound.sent == []


async def test_two_hosts_on_one_postgresql_run_a_slot_once(
    tmp_path: Path, postgres_url: str
) -> None:
    plugin = write(tmp_path / "morning")
    async with host(plugin, postgres_url) as a, host(plugin, postgres_url) as b:
        await a.host.scheduler.run_due(at(23, 7, 0))
        async with anyio.create_task_group() as tg:
            for h in (a, b, a, b):
                tg.start_soon(h.host.scheduler.run_due, at(23, 8, 0))
        assert len(a.outbound.sent) + len(b.outbound.sent) == 1


async def test_a_reload_changes_the_time(tmp_path: Path) -> None:
    plugin = write(tmp_path / "morning", at="09:00")
    async with host(plugin, f"sqlite:///{tmp_path / 'bot.db'}") as h:
        scheduler = h.host.scheduler
        await scheduler.run_due(at(23, 7, 0))
        write(plugin, at="08:00", version="2")
        runtime = h.host.runtime
        await runtime.swap("morning", runtime.import_plugin("morning", plugin))
        await scheduler.run_due(at(23, 8, 0))
        assert await scheduler.run_due(at(23, 9, 0)) == []
        assert h.outbound.to(1) == ["2 Mon 08:00"]
        await runtime.swap("morning", None)  # removing the plugin cancels its schedule
        assert await scheduler.run_due(at(24, 8, 0)) == []


async def test_the_scheduler_loop_sleeps_until_the_next_slot(tmp_path: Path) -> None:
    class ManualClock:
        def __init__(self, start: dt.datetime) -> None:
            self.moment = start
            self.waiting: tuple[dt.datetime | None, anyio.Event] | None = None
            self.parked = anyio.Event()

        def now(self) -> dt.datetime:
            return self.moment

        async def sleep_until(self, moment: dt.datetime | None, wake: anyio.Event) -> None:
            self.waiting = (moment, wake)
            self.parked.set()
            await wake.wait()

        def advance(self, to: dt.datetime) -> None:
            self.moment = to
            self.parked = anyio.Event()
            assert self.waiting is not None
            self.waiting[1].set()

    plugin = write(tmp_path / "morning")
    async with host(plugin, f"sqlite:///{tmp_path / 'bot.db'}") as h:
        clock = ManualClock(at(23, 7, 0))
        h.host.scheduler.clock = clock
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: h.host.serve(signals=False))  # the loop runs while served
            await clock.parked.wait()
            assert clock.waiting is not None
            assert clock.waiting[0] == at(23, 8, 0)  # asks to be woken at the slot
            clock.advance(at(23, 8, 0))
            await clock.parked.wait()
            await anyio.wait_all_tasks_blocked()  # the slot's run, queued, has ended
            # ...and the loop, woken to record it, sleeps until the next slot.
            assert clock.waiting[0] == at(24, 8, 0)
            assert h.outbound.to(1) == ["1 Mon 08:00"]
            h.host.request_stop()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"at": "25:00"}, "at='25:00': not a time of day"),
        ({"at": "8am"}, "at='8am': not a time of day"),
        ({"every": "7m"}, "every='7m': not an interval that divides a day"),
        ({"every": "soon"}, "every='soon'"),
        ({"at": "08:00", "days": "mon-fry"}, "'mon-fry' is not a day"),
        ({"at": "08:00", "tz": "Mars/Olympus"}, "tz='Mars/Olympus': not an IANA time zone"),
        ({}, "exactly one of"),
        ({"at": "08:00", "every": "1h"}, "exactly one of"),
    ],
)
def test_bad_expressions_are_refused(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        on_schedule(**kwargs)  # type: ignore[arg-type]


def test_days_and_intervals() -> None:
    spec = parse_schedule(at=None, days=["sat", "sun"], every="30m", tz="Europe/Moscow")
    assert spec.days == frozenset({5, 6})
    assert spec.latest_at_or_before(at(28, 10, 45), MSK) == at(28, 10, 30)
    assert spec.next_after(at(27, 12, 0), MSK) == at(28, 0, 0)
    assert parse_schedule(at="8:05", days="fri-mon", every=None, tz=None).days == frozenset(
        {4, 5, 6, 0}
    )


async def test_a_bad_expression_in_a_plugin_names_the_file_and_line(tmp_path: Path) -> None:
    plugin = write(tmp_path / "morning", at="24:61")
    with pytest.raises(PluginLoadError) as info:
        async with host(plugin, "sqlite:///:memory:"):
            pass
    (issue,) = info.value.issues
    assert issue.file == str(plugin / "__plugin__.py")
    assert issue.line == 11
    assert "at='24:61': not a time of day" in issue.message


async def test_a_claim_while_a_finished_slot_is_recorded_does_not_run_it_again(
    tmp_path: Path,
) -> None:
    # Two `run_due` of one process interleave: the second claims while the first
    # records its finished slot. The slot must count as running here until it is
    # recorded done, or this process (the lease's owner) takes it again.
    plugin = write(tmp_path / "morning")
    async with host(plugin, f"sqlite:///{tmp_path / 'bot.db'}") as h:
        scheduler = h.host.scheduler
        await scheduler.run_due(at(23, 7, 0))
        mark = scheduler._mark_done
        claimed: list[list[object]] = []

        async def claim_then_mark(key: str, slot: float) -> None:
            if not claimed:
                claimed.append(list(await scheduler.claim_due(at(23, 8, 0))))
            await mark(key, slot)

        scheduler._mark_done = claim_then_mark  # type: ignore[method-assign]
        await scheduler.run_due(at(23, 8, 0))
        assert claimed == [[]]
        assert h.outbound.to(1) == ["1 Mon 08:00"]
