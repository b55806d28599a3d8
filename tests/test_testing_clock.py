"""`TestHost(clock=ManualClock(...))`: a plugin that waits for a time, tested without waiting."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import anyio
import pytest

from botrt.testing import ManualClock, TestHost

pytestmark = pytest.mark.anyio

START = dt.datetime(2026, 11, 24, 7, 0, tzinfo=dt.UTC)

REMINDER = """
import datetime as dt

import anyio

from botrt import PluginPlanner
from botrt.plugin import Background, BotInfo, Messenger

PLUGIN = PluginPlanner(version="1.0.0")


async def remind(info: BotInfo, messenger: Messenger) -> None:
    moment = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
    await info.sleep_until(moment, anyio.Event())
    await messenger.send("memory", 7, f"it is {info.now():%H:%M}")


@PLUGIN.on_load
async def start(background: Background, info: BotInfo, messenger: Messenger) -> None:
    background.start(remind, info, messenger)
"""


async def test_a_plugin_waits_on_the_clock_the_test_moves(tmp_path: Path) -> None:
    folder = tmp_path / "reminder"
    folder.mkdir()
    (folder / "__plugin__.py").write_text(REMINDER, encoding="utf-8")
    clock = ManualClock(START)
    async with TestHost(plugins=[folder], clock=clock, config={"bot": {"timezone": "UTC"}}) as h:
        await clock.wait_sleeping(1)
        clock.advance(START + dt.timedelta(minutes=59))
        assert h.outbound.to(7) == []  # not yet: 07:59
        clock.advance(START + dt.timedelta(hours=1))
        await clock.wait_sleeping(0)
        with anyio.fail_after(10):
            await h.host.background.wait_idle("reminder")
        assert h.outbound.to(7) == ["it is 08:00"]


def test_the_clock_refuses_naive_times_and_going_back() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(dt.datetime(2026, 11, 24, 7, 0))
    clock = ManualClock(START)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(START - dt.timedelta(seconds=1))
