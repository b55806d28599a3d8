"""The timetable example: today's lessons to every member at the set time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from botrt.adapter import MemberInfo
from botrt.testing import TestHost

pytestmark = pytest.mark.anyio

TIMETABLE = Path(__file__).resolve().parents[2] / "examples" / "timetable"
SETTINGS = {"mon": ["math 09:00", "physics 10:45"], "tue": []}


async def test_the_morning_message_reaches_every_member(tmp_path: Path) -> None:
    config = {
        "bot": {"timezone": "Europe/Moscow"},
        "storage": {"url": f"sqlite:///{tmp_path / 'bot.db'}"},
        "plugins": {"settings": {"timetable": SETTINGS}},
    }
    async with TestHost(plugins=[TIMETABLE], config=config) as host:
        await host.host.members.sync(  # type: ignore[union-attr]
            "memory", [MemberInfo(11, "Anna"), MemberInfo(12, "Boris")]
        )
        msk = dt.timezone(dt.timedelta(hours=3))
        scheduler = host.host.scheduler
        await scheduler.run_due(dt.datetime(2026, 11, 23, 7, 0, tzinfo=msk))  # Monday
        await scheduler.run_due(dt.datetime(2026, 11, 23, 7, 30, tzinfo=msk))
        expected = "Today's lessons:\n- math 09:00\n- physics 10:45"
        assert host.outbound.to(11) == [expected]
        assert host.outbound.to(12) == [expected]
        # Tuesday has no lessons: nothing is sent.
        await scheduler.run_due(dt.datetime(2026, 11, 24, 7, 30, tzinfo=msk))
        assert len(host.outbound.sent) == 2
