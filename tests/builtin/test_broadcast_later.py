"""What a broadcast decides later: its recipients when it starts, its report when its bot runs.

Each test builds its `Host` itself on a database file of its own, so that a
"restart" is a new host on the same file, with the bot accounts the test picks.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from botrt.adapter import MemberInfo, SendOutcome
from botrt.config import parse_config
from botrt.host import Host
from botrt.testing import ManualClock, MemoryEvent, MemoryOutbound

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
MSK = zoneinfo.ZoneInfo("Europe/Moscow")
ADMIN = 1
TEXT = "Exam moved to room 301"


class FailingOutbound(MemoryOutbound):
    """Sends the first batch; every later call fails, as an unreachable platform would."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = anyio.Event()
        self.calls = 0

    async def send_many(
        self, peer_ids: Sequence[int], text: str, *, key: str, **options: object
    ) -> list[SendOutcome]:
        self.calls += 1
        if self.calls > 1:
            self.failed.set()
            raise ConnectionError("platform unreachable")
        return await super().send_many(peer_ids, text, key=key, **options)


@asynccontextmanager
async def running(
    tmp_path: Path, outbound: dict[str, MemoryOutbound], clock: ManualClock | None = None
) -> AsyncIterator[Host]:
    """A host with the broadcast plugin on `tmp_path`'s database; `outbound`: its sending bots."""
    config = parse_config(
        {
            "bot": {"timezone": "Europe/Moscow"},
            "storage": {"url": f"sqlite:///{tmp_path / 'bot.db'}"},
            "console": {"enabled": False},
            "plugins": {
                "builtin": False,
                "reload": False,
                "dirs": [str(ROOT / "plugins")],
                "enabled": ["broadcast"],
                "settings": {"broadcast": {"batch_size": 2}},
            },
        },
        base_dir=tmp_path,
    )
    host = Host(config, entry_points=False)
    if clock is not None:
        host.scheduler.clock = clock
    for name, sender in outbound.items():
        host.register_bot(name, outbound=sender)
    assert await host.start() == []
    try:
        yield host
    finally:
        await host.stop()


async def admin(host: Host, text: str) -> list[str]:
    event = MemoryEvent(text, user_id=ADMIN, role="admin")
    await host.handle(event)
    return list(event.replies)


async def idle(host: Host) -> None:
    with anyio.fail_after(10):
        await host.background.wait_idle("broadcast")


def roster(count: int) -> list[MemberInfo]:
    people = [MemberInfo(ADMIN, "Ada", "Admin", "administrator")]
    return people + [MemberInfo(i, f"Name{i}", f"Family{i}") for i in range(100, 100 + count)]


def reports(outbound: MemoryOutbound) -> list[str]:
    return [t for t in outbound.to(ADMIN) if t.startswith("Broadcast #")]


async def test_a_report_waits_for_its_bot_and_goes_out_when_it_runs_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    failing = FailingOutbound()
    async with running(tmp_path, {"memory": failing}) as first:
        assert first.members is not None
        await first.members.sync("memory", roster(3))
        assert await admin(first, f"/broadcast {TEXT}") == ["Broadcast #1 started: 4 recipients."]
        with anyio.fail_after(10):
            await failing.failed.wait()
        # Stopped half done: 2 sent, 2 left.

    # The next start runs bot "memory" receiving only: it cannot send the report.
    other = MemoryOutbound()
    with caplog.at_level(logging.WARNING, logger="botrt.plugins.broadcast"):
        async with running(tmp_path, {"other": other}) as second:
            await idle(second)
            assert await admin(second, "/broadcast cancel 1") == [
                "Broadcast #1 cancelled. The admins get its report."
            ]
            await idle(second)
            (status,) = await admin(second, "/broadcast status 1")
            assert status.startswith("Broadcast #1 cancelled")
    assert other.sent == []
    assert "report is kept until bot 'memory' runs again" in caplog.text

    back = MemoryOutbound()
    async with running(tmp_path, {"memory": back}) as third:
        await idle(third)
        (report,) = reports(back)
        assert report.splitlines()[0] == "Broadcast #1 cancelled: all members."
        assert "Sent: 2" in report.splitlines()
        assert [t for _, t, _ in back.sent if t == TEXT] == []  # cancelled: nobody else gets it

    again = MemoryOutbound()
    async with running(tmp_path, {"memory": again}) as fourth:
        await idle(fourth)
        assert again.sent == []  # the report went out once


async def test_a_broadcast_can_be_scheduled_before_any_member_is_stored(tmp_path: Path) -> None:
    clock = ManualClock(dt.datetime(2026, 11, 24, 7, 0, tzinfo=MSK))
    outbound = MemoryOutbound()
    async with running(tmp_path, {"memory": outbound}, clock) as host:
        assert await admin(host, f'/broadcast --at "2026-11-24 08:00" {TEXT}') == [
            "Broadcast #1 scheduled for 2026-11-24 08:00 (Europe/Moscow), to all members. "
            "/broadcast cancel 1 cancels it."
        ]
        # A start right now still needs members to send to.
        assert await admin(host, f"/broadcast {TEXT}") == [
            "No members are stored for this bot yet."
        ]
        await clock.wait_sleeping(1)
        assert host.members is not None
        await host.members.sync("memory", roster(3))  # the first sync, meanwhile
        clock.advance(dt.datetime(2026, 11, 24, 8, 0, tzinfo=MSK))
        await idle(host)
        got = sorted(peer for peer, text, _ in outbound.sent if text == TEXT)
        assert got == [ADMIN, 100, 101, 102]
        (report,) = reports(outbound)
        assert "Sent: 4" in report.splitlines()
