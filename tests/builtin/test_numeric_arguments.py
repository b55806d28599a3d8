"""Numbers typed as command arguments: digits 0-9 only; any other digit is a clear refusal.

``"²".isdigit()`` is true and ``int("²")`` raises; ``int("١")`` and ``int("１")``
quietly read 1, and ``int("1_0")`` reads 10. A number in a command is written
with the digits 0-9; surrounding spaces do not matter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from botrt.adapter import MemberInfo
from botrt.plugin import MemberLookupError
from botrt.testing import TestHost

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = [ROOT / "plugins" / name for name in ("broadcast", "attendance", "help")]
# Superscript two, Arabic-Indic three, full-width one, a sign, a digit separator.
ODD = ["²", "٣", "１", "-1", "1_0", "+1", "1.0"]
ROSTER = [
    MemberInfo(1, "Ada", "Admin", "administrator"),
    MemberInfo(3, "Ivan", "Ivanov"),
    MemberInfo(10, "Oleg", "Sidorov"),
]
NOTHING = "No absences 2026-09-01..2026-09-30."


@asynccontextmanager
async def bot() -> AsyncIterator[TestHost]:
    config = {"plugins": {"settings": {"attendance": {"lessons": ["math"]}}}}
    async with TestHost(plugins=PLUGINS, config=config) as host:
        await host.host.members.sync("memory", ROSTER)
        yield host


async def admin(host: TestHost, text: str) -> list[str]:
    return await host.send(text, role="admin")


@pytest.mark.parametrize("odd", ODD)
@pytest.mark.parametrize("word", ["cancel", "status"])
@pytest.mark.parametrize("hash_sign", ["", "#"])
async def test_a_broadcast_number_in_other_digits_is_refused_with_the_format(
    odd: str, word: str, hash_sign: str
) -> None:
    async with bot() as host:
        await admin(host, '/broadcast --at "2030-01-01 08:00" hello')  # broadcast #1
        arg = hash_sign + odd
        assert await admin(host, f"/broadcast {word} {arg}") == [
            f"{arg!r} is not a broadcast number: write it in digits 0-9, e.g. 3 or #3. "
            "Send /broadcast status for the list."
        ]
        (status,) = await admin(host, "/broadcast status")
        assert "#1 scheduled" in status  # nothing was cancelled


async def test_a_broadcast_number_with_spaces_around_is_read() -> None:
    async with bot() as host:
        await admin(host, '/broadcast --at "2030-01-01 08:00" hello')
        assert await admin(host, "/broadcast cancel   1  ") == [
            "Broadcast #1 cancelled before it started: nothing was sent."
        ]


@pytest.mark.parametrize("odd", ["²", "٣", "１"])
async def test_a_start_time_in_other_digits_is_refused(odd: str) -> None:
    async with bot() as host:
        value = f"2030-01-01 0{odd}:00"
        (reply,) = await admin(host, f'/broadcast --at "{value}" hello')
        assert reply.startswith(f"Broadcast not scheduled: {value!r} is not a date and time;")
        assert await admin(host, "/broadcast status") == ["No broadcasts yet."]


@pytest.mark.parametrize("odd", ODD)
@pytest.mark.parametrize("command", ["absent", "present"])
async def test_a_student_id_in_other_digits_names_nobody(odd: str, command: str) -> None:
    async with bot() as host:
        verb = "recorded" if command == "absent" else "removed"
        assert await admin(host, f"/{command} {odd} --date 2026-09-01") == [
            f"Nothing was {verb}:\n- nobody called {odd!r} is in the member list"
        ]
        assert await admin(host, "/attendance 2026-09") == [NOTHING]


async def test_a_student_id_with_spaces_around_is_read() -> None:
    async with bot() as host:
        assert await admin(host, "/absent   10   --date 2026-09-01") == [
            "Marked absent on 2026-09-01, whole day: Oleg Sidorov"
        ]
        assert await admin(host, "/attendance  10 ") == [
            "Absences of Oleg Sidorov: 1 (whole day 1)\n2026-09-01: whole day"
        ]


@pytest.mark.parametrize("odd", ["²", "٣", "１", "1_0", "+1", "1.0"])
async def test_a_student_id_to_view_in_other_digits_names_nobody(odd: str) -> None:
    async with bot() as host:
        assert await admin(host, f"/attendance {odd}") == [
            f"nobody called {odd!r} is in the member list"
        ]


@pytest.mark.parametrize("odd", ["²", "٣", "１"])
async def test_a_date_in_other_digits_is_refused(odd: str) -> None:
    async with bot() as host:
        day = f"2026-09-0{odd}"
        assert await admin(host, f"/absent Ivanov --date {day}") == [
            f"--date {day}: not a date (YYYY-MM-DD)\n"
            "Usage: /absent STUDENT... [--lesson NAME] [--date YYYY-MM-DD]"
        ]
        assert await admin(host, "/attendance 2026-09") == [NOTHING]


@pytest.mark.parametrize("odd", ["٣", "１"])
async def test_a_range_in_other_scripts_digits_is_refused_as_a_range(odd: str) -> None:
    usage = "Usage: /attendance [export] [STUDENT] [START..END | YYYY-MM-DD | YYYY-MM]"
    day = f"2026-09-0{odd}"
    cases = {
        f"2026-0{odd}": f"2026-0{odd}",
        day: day,
        f"{day}..2026-09-30": day,
        f"2026-09-01..{day}": day,
    }
    async with bot() as host:
        for span, bad in cases.items():
            assert await admin(host, f"/attendance {span}") == [
                f"{span}: {bad} is not a date (YYYY-MM-DD)\n{usage}"
            ], span


@pytest.mark.parametrize("odd", [*ODD, "1"])
async def test_help_with_a_number_names_no_command(odd: str) -> None:
    async with bot() as host:
        assert await host.send(f"/help {odd}") == [f"No command {odd!r}. Send /help for the list."]


@pytest.mark.parametrize("odd", ODD)
async def test_members_resolve_reads_ids_in_digits_0_to_9_only(odd: str) -> None:
    async with bot() as host:
        members = host.host.members
        assert (await members.resolve(" 3 ", "memory")).user_id == 3
        assert (await members.resolve("id3", "memory")).user_id == 3
        with pytest.raises(MemberLookupError):
            await members.resolve(odd, "memory")
        with pytest.raises(MemberLookupError):
            await members.resolve(f"[id{odd}|Ivan]", "memory")
