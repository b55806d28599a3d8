"""Scheduled broadcasts (``broadcast --at``): on a clock the test moves, across restarts.

Each test builds its `Host` itself on a database file of its own, so that a
"restart" is a new host on the same file; the `ManualClock` is set before the
host starts, since the broadcast plugin's `on_load` arms the waits.
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
from sqlalchemy import text

from botrt.adapter import MemberInfo
from botrt.config import parse_config
from botrt.host import Host
from botrt.storage import Storage
from botrt.storage._internal import LeaseLostError, Leases
from botrt.testing import ManualClock, MemoryEvent, MemoryOutbound, TestHost

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
MSK = zoneinfo.ZoneInfo("Europe/Moscow")
ADMIN = 1
FORMAT = '--at "YYYY-MM-DD HH:MM"'


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """November 2026 in Moscow, the bot's time zone in these tests."""
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=MSK)


class Bot:
    """A running host with the broadcast plugin, on the in-memory platform."""

    def __init__(self, host: Host, outbound: MemoryOutbound) -> None:
        self.host = host
        self.outbound = outbound

    async def send(self, message: str, *, user_id: int = ADMIN, role: str = "admin") -> list[str]:
        event = MemoryEvent(message, user_id=user_id, role=role)
        await self.host.handle(event)
        return list(event.replies)

    async def idle(self) -> None:
        """Wait until the plugin has no task left: no job waiting or being sent."""
        with anyio.fail_after(10):
            await self.host.background.wait_idle("broadcast")

    def got(self, message: str) -> dict[int, int]:
        """How many times each peer received `message`."""
        counts: dict[int, int] = {}
        for peer, sent, _ in self.outbound.sent:
            if sent == message:
                counts[peer] = counts.get(peer, 0) + 1
        return counts

    def reports(self, peer: int = ADMIN) -> list[str]:
        return [t for t in self.outbound.to(peer) if t.startswith("Broadcast #")]


async def reported(b: Bot, job_id: int) -> None:
    """Wait until job `job_id` has ended and its report went out, whichever process sent it."""
    assert b.host.storage is not None
    ps = b.host.storage.for_plugin("broadcast")
    query = text("SELECT reported FROM broadcast__jobs WHERE id = :id").bindparams(id=job_id)
    with anyio.fail_after(10):
        while not await ps.scalar(query):
            await anyio.wait_all_tasks_blocked()


@asynccontextmanager
async def bot(storage_url: str, clock: ManualClock, tmp_path: Path) -> AsyncIterator[Bot]:
    """A host on `storage_url` whose clock is `clock`; stopped (as for a restart) on exit."""
    config = parse_config(
        {
            "bot": {"timezone": "Europe/Moscow"},
            "storage": {"url": storage_url},
            "console": {"enabled": False},
            "plugins": {
                "builtin": False,
                "reload": False,
                "dirs": [str(ROOT / "plugins")],
                "enabled": ["broadcast"],
            },
        },
        base_dir=tmp_path,
    )
    host = Host(config, entry_points=False)
    host.scheduler.clock = clock  # the host's clock, which plugins read through BotInfo
    outbound = MemoryOutbound()
    host.register_bot("memory", outbound=outbound)
    assert await host.start() == []
    try:
        yield Bot(host, outbound)
    finally:
        await host.stop()


def roster(count: int, *, first: int = 100) -> list[MemberInfo]:
    """`count` members from id `first`, and the admin (a manager) as id 1."""
    people = [MemberInfo(ADMIN, "Ada", "Admin", "administrator")]
    people += [MemberInfo(i, f"Name{i}", f"Family{i}") for i in range(first, first + count)]
    return people


async def fill(b: Bot, people: Sequence[MemberInfo]) -> None:
    assert b.host.members is not None
    await b.host.members.sync("memory", people)


TEXT = "Exam moved to room 301"


async def test_a_scheduled_broadcast_survives_a_restart_and_is_sent_once_to_every_member(
    storage_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(at(24, 7, 0))
    async with bot(storage_url, clock, tmp_path) as first:
        await fill(first, roster(150))
        assert await first.send(f'/mb --at "2026-11-24 08:00" {TEXT}') == [
            "Broadcast #1 scheduled for 2026-11-24 08:00 (Europe/Moscow), to all members. "
            "/broadcast cancel 1 cancels it."
        ]
        await clock.wait_sleeping(1)
        (status,) = await first.send("/mb status")
        assert status.splitlines() == [
            "Broadcasts:",
            "#1 scheduled for 2026-11-24 08:00 (Europe/Moscow), all members; just now by id1; "
            f'"{TEXT}"',
        ]
        # The host stops before the time: nothing went out.
    assert first.outbound.sent == []
    await clock.wait_sleeping(0)

    clock.advance(at(24, 7, 30))
    async with bot(storage_url, clock, tmp_path) as second:
        await clock.wait_sleeping(1)  # on_load waits for it again
        assert second.outbound.sent == []
        (status,) = await second.send("/mb status")
        assert "#1 scheduled for 2026-11-24 08:00 (Europe/Moscow), all members; 30 min ago" in (
            status
        )
        (detail,) = await second.send("/mb status 1")
        assert detail.splitlines() == [
            "Broadcast #1 scheduled: all members.",
            f'Text: "{TEXT}"',
            "Starts: 2026-11-24 08:00 (Europe/Moscow)",
            "Recipients: chosen when it starts",
        ]
        # Recipients are the members stored when it starts: one who joined meanwhile too.
        await fill(second, roster(151))
        clock.advance(at(24, 7, 59))
        assert second.outbound.sent == []
        clock.advance(at(24, 8, 0))
        await second.idle()
        assert second.got(TEXT) == {peer: 1 for peer in [ADMIN, *range(100, 251)]}
        (report,) = second.reports()
        assert report.splitlines() == [
            "Broadcast #1 finished: all members.",
            f'Text: "{TEXT}"',
            "Scheduled for: 2026-11-24 08:00 (Europe/Moscow)",
            "Planned: 152",
            "Sent: 152",
            "Failed: 0",
        ]
        clock.advance(at(24, 9, 0))
        (status,) = await second.send("/mb status")
        assert status.splitlines()[1].startswith(
            "#1 finished, all members: 152 planned, 152 sent, 0 failed; 2 h ago by id1;"
        )

    async with bot(storage_url, clock, tmp_path) as third:  # nothing to wait for, nothing resent
        await third.idle()
        assert clock.sleepers == []
        assert third.outbound.sent == []


async def test_a_broadcast_due_while_the_bot_was_down_starts_at_the_next_start(
    storage_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(at(24, 7, 0))
    async with bot(storage_url, clock, tmp_path) as first:
        await fill(first, roster(3))
        await first.send(f"/mb --at 2026-11-24 08:00 {TEXT}")
    clock.advance(at(24, 9, 15))
    with caplog.at_level(logging.WARNING, logger="botrt.plugins.broadcast"):
        async with bot(storage_url, clock, tmp_path) as second:
            await second.idle()
            assert second.got(TEXT) == {peer: 1 for peer in [ADMIN, 100, 101, 102]}
            assert len(second.reports()) == 1
    assert (
        "broadcast #1 was scheduled for 2026-11-24 08:00 (Europe/Moscow), when the bot was "
        "not running; starting it now" in caplog.text
    )


async def test_cancel_before_the_start_means_it_is_never_sent(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    clock = ManualClock(at(24, 7, 0))
    async with bot(url, clock, tmp_path) as b:
        await fill(b, roster(3))
        await b.send(f'/mb --at "2026-11-24 08:00" {TEXT}')
        await clock.wait_sleeping(1)
        assert await b.send("/mb cancel 1") == [
            "Broadcast #1 cancelled before it started: nothing was sent."
        ]
        await b.idle()  # the wait ended
        assert clock.sleepers == []
        clock.advance(at(24, 8, 0))
        assert await b.send("/mb cancel #1") == ["Broadcast #1 is not running (it is cancelled)."]
        (status,) = await b.send("/mb status")
        assert status.splitlines()[1] == (
            "#1 cancelled before its start at 2026-11-24 08:00 (Europe/Moscow), all members; "
            f'1 h ago by id1; "{TEXT}"'
        )
        (detail,) = await b.send("/mb status 1")
        assert detail.splitlines()[2:] == [
            "Was scheduled for: 2026-11-24 08:00 (Europe/Moscow); cancelled before it started"
        ]
    clock.advance(at(24, 9, 0))
    async with bot(url, clock, tmp_path) as again:  # not armed again after a restart
        await again.idle()
        assert clock.sleepers == []
    assert b.outbound.sent == []  # no message, and no report
    assert again.outbound.sent == []


async def test_the_conversations_of_the_student_group_page(tmp_path: Path) -> None:
    """The scheduled-broadcast examples of docs/student-group.md, on their date."""
    clock = ManualClock(at(24, 7, 30))
    async with bot(f"sqlite:///{tmp_path / 'bot.db'}", clock, tmp_path) as b:
        await fill(b, roster(4, first=11))
        assert await b.send(f'/mb --at "2026-11-24 08:00" {TEXT}') == [
            "Broadcast #1 scheduled for 2026-11-24 08:00 (Europe/Moscow), to all members. "
            "/broadcast cancel 1 cancels it."
        ]
        assert await b.send("/mb status") == [
            "Broadcasts:\n#1 scheduled for 2026-11-24 08:00 (Europe/Moscow), all members; "
            f'just now by id1; "{TEXT}"'
        ]
        assert await b.send("/mb cancel 1") == [
            "Broadcast #1 cancelled before it started: nothing was sent."
        ]
        assert await b.send('/mb --at "24.11 8:00" Exam moved') == [
            "Broadcast not scheduled: '24.11 8:00' is not a date and time; use --at "
            '"YYYY-MM-DD HH:MM" in the bot\'s time zone (Europe/Moscow), e.g. --at '
            '"2026-11-25 08:00".'
        ]
        await b.idle()
        assert b.outbound.sent == []
    page = (ROOT / "docs" / "student-group.md").read_text(encoding="utf-8")
    for line in (
        "Bot:   Broadcast #1 scheduled for 2026-11-24 08:00 (Europe/Moscow), to all members. "
        "/broadcast cancel 1 cancels it.",
        "#1 scheduled for 2026-11-24 08:00 (Europe/Moscow), all members; just now by id1; "
        f'"{TEXT}"',
        "Bot:   Broadcast #1 cancelled before it started: nothing was sent.",
        "Bot:   Broadcast not scheduled: '24.11 8:00' is not a date and time; use --at "
        '"YYYY-MM-DD HH:MM" in the bot\'s time zone (Europe/Moscow), e.g. --at '
        '"2026-11-25 08:00".',
    ):
        assert line in page


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (
            f'/mb --at "2026-11-24 07:00" {TEXT}',
            "2026-11-24 07:00 has passed (it is 2026-11-24 07:30 in Europe/Moscow now); ",
        ),
        ("/mb --at 2026-11-23 09:00 hi", "2026-11-23 09:00 has passed"),
        ('/mb --at "2026-11-24 7:30" hi', "2026-11-24 7:30 has passed"),
        ('/mb --at "24.11.2026 08:00" hi', "'24.11.2026 08:00' is not a date and time; "),
        ("/mb --at tomorrow hi", "'tomorrow hi' is not a date and time; "),
        ('/mb --at "2026-11-31 08:00" hi', "'2026-11-31 08:00' is not a date and time; "),
        ('/ma --at "2026-11-24 25:00" hi', "'2026-11-24 25:00' is not a date and time; "),
        ('/mb --at "2026-11-24 08:00 hi', "'2026-11-24 08:00 hi' is not a date and time; "),
        ("/mb --at", "no time after --at; "),
    ],
)
async def test_a_past_or_malformed_time_is_refused_with_the_format_and_nothing_is_stored(
    tmp_path: Path, command: str, error: str
) -> None:
    clock = ManualClock(at(24, 7, 30))
    async with bot(f"sqlite:///{tmp_path / 'bot.db'}", clock, tmp_path) as b:
        await fill(b, roster(3))
        (answer,) = await b.send(command)
        assert answer.startswith(f"Broadcast not scheduled: {error}")
        assert answer.endswith(
            f'use {FORMAT} in the bot\'s time zone (Europe/Moscow), e.g. --at "2026-11-25 08:00".'
        )
        await b.idle()
        assert await b.send("/mb status") == ["No broadcasts yet."]
        assert await b.send("/ma status") == ["No broadcasts yet."]
        assert b.outbound.sent == []


async def test_a_time_the_clocks_skip_is_refused() -> None:
    # Berlin moves from 02:00 to 03:00 on 28 March 2027: 02:30 never happens there.
    config = {"bot": {"timezone": "Europe/Berlin"}}
    async with TestHost(plugins=[ROOT / "plugins" / "broadcast"], config=config) as host:
        assert host.host.members is not None
        await host.host.members.sync("memory", roster(1))
        (answer,) = await host.send('/mb --at "2027-03-28 02:30" hi', role="admin")
        assert answer.startswith(
            "Broadcast not scheduled: 2027-03-28 02:30 does not exist in Europe/Berlin "
            "(the clocks change then); use --at"
        )
        assert await host.send("/mb status", role="admin") == ["No broadcasts yet."]


async def test_admins_quotes_and_text_keep_their_shape_and_status_lists_soonest_first(
    tmp_path: Path,
) -> None:
    clock = ManualClock(at(24, 7, 0))
    async with bot(f"sqlite:///{tmp_path / 'bot.db'}", clock, tmp_path) as b:
        await fill(b, roster(5))
        assert await b.send("/mb now") == ["Broadcast #1 started: 6 recipients."]
        await b.idle()
        # Unquoted, and the text goes on over several lines.
        (answer,) = await b.send("/ma --at 2026-11-24 09:00 Deputies:\n  the list by Friday")
        assert answer.startswith("Broadcast #2 scheduled for 2026-11-24 09:00 (Europe/Moscow)")
        assert answer.endswith("to admins. /broadcast-admins cancel 2 cancels it.")
        # Quotes a phone typed, and a text that would otherwise be a subcommand.
        (answer,) = await b.send("/mb --at «2026-11-24 08:30» status")
        assert answer.startswith("Broadcast #3 scheduled for 2026-11-24 08:30")
        (answer,) = await b.send("/mb --at=“2026-11-24 08:45” hi")
        assert answer.startswith("Broadcast #4 scheduled for 2026-11-24 08:45")
        assert await b.send("/mb --at 2026-11-24 08:50") == [
            "Nothing to send. Usage:\n"
            "/broadcast TEXT - send TEXT, with this message's attachments and forwards, "
            "to every member\n"
            f"/broadcast {FORMAT} TEXT - the same, starting then (bot's time zone)\n"
            "/broadcast status [N] - running, scheduled and recent broadcasts, or broadcast N\n"
            "/broadcast cancel N - stop broadcast N, or cancel it before it starts"
        ]
        await clock.wait_sleeping(3)
        (status,) = await b.send("/mb status")
        assert [line.split(";")[0] for line in status.splitlines()] == [
            "Broadcasts:",
            "#3 scheduled for 2026-11-24 08:30 (Europe/Moscow), all members",
            "#4 scheduled for 2026-11-24 08:45 (Europe/Moscow), all members",
            "#2 scheduled for 2026-11-24 09:00 (Europe/Moscow), admins",
            "#1 finished, all members: 6 planned, 6 sent, 0 failed",
        ]
        clock.advance(at(24, 8, 40))
        await clock.wait_sleeping(2)
        clock.advance(at(24, 9, 0))
        await b.idle()
        assert b.got("Deputies:\n  the list by Friday") == {ADMIN: 1}
        assert b.got("status") == {peer: 1 for peer in [ADMIN, *range(100, 105)]}
        assert b.got("hi") == {peer: 1 for peer in [ADMIN, *range(100, 105)]}


async def test_a_reload_waits_for_it_again(tmp_path: Path) -> None:
    clock = ManualClock(at(24, 7, 0))
    async with bot(f"sqlite:///{tmp_path / 'bot.db'}", clock, tmp_path) as b:
        await fill(b, roster(3))
        await b.send(f'/mb --at "2026-11-24 08:00" {TEXT}')
        await clock.wait_sleeping(1)
        runtime = b.host.runtime
        old = runtime.plugins["broadcast"]
        await runtime.swap(
            "broadcast", runtime.import_plugin("broadcast", ROOT / "plugins/broadcast")
        )
        assert runtime.plugins["broadcast"] is not old
        await clock.wait_sleeping(1)  # the old version's wait ended, the new one's began
        clock.advance(at(24, 8, 0))
        await b.idle()
        assert b.got(TEXT) == {peer: 1 for peer in [ADMIN, 100, 101, 102]}
        assert len(b.reports()) == 1


async def test_two_hosts_on_one_database_start_it_once(storage_url: str, tmp_path: Path) -> None:
    clock = ManualClock(at(24, 7, 0))
    async with bot(storage_url, clock, tmp_path) as a:
        await fill(a, roster(20))
        await a.send(f'/mb --at "2026-11-24 08:00" {TEXT}')
        async with bot(storage_url, clock, tmp_path) as b:  # a second process, started later
            await clock.wait_sleeping(2)  # both wait for it
            clock.advance(at(24, 8, 0))
            await reported(a, 1)
            # The one that lost the start waits to take the job over if the other
            # dies; at the lease's expiry it finds the job done, and ends.
            clock.advance(at(24, 8, 1))
            await a.idle()
            await b.idle()
    everyone = {peer: 1 for peer in [ADMIN, *range(100, 120)]}
    assert a.got(TEXT) | b.got(TEXT) == everyone
    assert sum(a.got(TEXT).values()) + sum(b.got(TEXT).values()) == len(everyone)
    assert len(a.reports()) + len(b.reports()) == 1


async def test_jobs_stored_by_version_1_of_the_tables_are_kept(
    storage_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(at(24, 7, 0))
    async with bot(storage_url, clock, tmp_path) as old:
        await fill(old, roster(2))
        assert await old.send("/mb hello") == ["Broadcast #1 started: 3 recipients."]
        await old.idle()
        # Back to the first shape of the tables, as the plugin's 1.0 left them.
        assert old.host.storage is not None
        ps = old.host.storage.for_plugin("broadcast")
        await ps.execute(text("DROP INDEX broadcast__jobs_origin"))
        for column in ("scheduled_at", "started_at", "forward", "forwarded", "origin"):
            await ps.execute(text(f"ALTER TABLE broadcast__jobs DROP COLUMN {column}"))
        await ps.execute(text("UPDATE botrt_schema SET version = 1 WHERE plugin = 'broadcast'"))
    async with bot(storage_url, clock, tmp_path) as new:
        assert new.host.storage is not None
        assert await new.host.storage.for_plugin("broadcast").schema_version() == 4
        (status,) = await new.send("/mb status")
        assert status.splitlines()[1].startswith("#1 finished, all members: 3 planned, 3 sent")
        assert (await new.send('/mb --at "2026-11-24 08:00" hi'))[0].startswith(
            "Broadcast #2 scheduled"
        )


def second(n: int) -> dt.datetime:
    return at(24, 8, 0) + dt.timedelta(seconds=n)


async def sleeping_until(clock: ManualClock, moment: dt.datetime) -> None:
    """Wait until the only task sleeping on `clock` sleeps until `moment`."""
    with anyio.fail_after(10):
        while [m for m, _ in clock.sleepers] != [moment]:
            await anyio.wait_all_tasks_blocked()


async def test_a_job_alive_in_another_process_is_taken_over_only_once_its_lease_expires(
    storage_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(second(0))
    async with bot(storage_url, clock, tmp_path) as first:
        await fill(first, roster(5))
    everyone = [ADMIN, *range(100, 105)]
    # Another process, on another machine, started job #1 and holds its lease.
    async with await Storage.open(storage_url) as storage:
        ps = storage.for_plugin("broadcast")
        await ps.execute(
            text(
                "INSERT INTO broadcast__jobs (id, bot, audience, text, attachment, created_by, "
                "created_at, state, planned, sent, failed, reported) VALUES (1, 'memory', "
                "'members', :text, '', 1, :now, 'running', :n, 0, 0, false)"
            ).bindparams(text=TEXT, now=second(0).timestamp(), n=len(everyone))
        )
        for peer in everyone:
            await ps.execute(
                text(
                    "INSERT INTO broadcast__recipients (job_id, peer_id, state, attempts) "
                    "VALUES (1, :peer, 'pending', 0)"
                ).bindparams(peer=peer)
            )
        leases = Leases(storage, clock)
        held = await leases.acquire("broadcast:job:1", owner="elsewhere:42:abc", ttl=30)
        assert held is not None

        async with bot(storage_url, clock, tmp_path) as b:
            await sleeping_until(clock, second(30))  # waits for the lease's expiry
            clock.advance(second(20))
            held = await leases.renew(held, ttl=30)  # the other process is alive
            clock.advance(second(30))
            await sleeping_until(clock, second(50))  # so it waits again
            assert b.got(TEXT) == {}
            clock.advance(second(50))  # the other process died: its lease expired
            await reported(b, 1)
            await b.idle()
            assert b.got(TEXT) == {peer: 1 for peer in everyone}
            assert len(b.reports()) == 1
        with pytest.raises(LeaseLostError, match=r"is now released"):
            await leases.renew(held, ttl=30)  # taken over, then released at the end
        epoch = await ps.scalar(
            text("SELECT epoch FROM botrt_lease WHERE name = 'broadcast:job:1'")
        )
        assert epoch == held.epoch + 1
