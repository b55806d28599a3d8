"""The built-in attendance plugin through a real host, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from botrt.adapter import MemberInfo
from botrt.plugin import PluginLoadError
from botrt.testing import TestHost

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugins" / "attendance"
LESSONS = ["math", "physics"]
ROSTER = [
    MemberInfo(11, "Ivan", "Ivanov"),
    MemberInfo(12, "Petr", "Ivanov"),
    MemberInfo(13, "Anna", "Petrova"),
    MemberInfo(14, "Oleg", "Sidorov"),
]
ABSENT_USAGE = "Usage: /absent STUDENT... [--lesson NAME] [--date YYYY-MM-DD]"
NOTHING_IN_SEPTEMBER = ["No absences 2026-09-01..2026-09-30."]


def make_host(storage_url: str, settings: dict[str, Any] | None = None) -> TestHost:
    attendance = {"lessons": LESSONS} if settings is None else settings
    return TestHost(
        plugins=[PLUGIN],
        config={
            "storage": {"url": storage_url},
            "plugins": {"settings": {"attendance": attendance}},
        },
    )


@asynccontextmanager
async def running(
    storage_url: str, settings: dict[str, Any] | None = None, roster: list[MemberInfo] = ROSTER
) -> AsyncIterator[TestHost]:
    async with make_host(storage_url, settings) as host:
        await host.host.members.sync("memory", roster)
        yield host


async def admin(host: TestHost, text: str, user_id: int = 1) -> list[str]:
    return await host.send(text, user_id=user_id, role="admin")


async def test_names_ids_and_mentions_are_marked(storage_url: str) -> None:
    async with running(storage_url) as host:
        assert await admin(
            host, "/absent Ivan Ivanov, Anna Petrova --lesson math --date 2026-09-01"
        ) == ["Marked absent on 2026-09-01, math: Ivan Ivanov, Anna Petrova"]
        # Mentions and ids stand alone when separated by spaces; options go anywhere.
        assert await admin(host, "/absent --date 2026-09-02 [id13|Anna P.] 14 id12") == [
            "Marked absent on 2026-09-02, whole day: Anna Petrova, Oleg Sidorov, Petr Ivanov"
        ]
        # Any case for lessons; "—" is how phones write "--"; a name by last name alone.
        assert await admin(host, "/absent Sidorov —lesson PHYSICS —date 2026-09-03") == [
            "Marked absent on 2026-09-03, physics: Oleg Sidorov"
        ]
        # A mention's text may hold spaces; "--option=value" works too; repeats count once.
        assert await admin(
            host, "/absent [id11|Ivan Ivanov] --lesson=physics --date=2026-09-03 ivan ivanov"
        ) == ["Marked absent on 2026-09-03, physics: Ivan Ivanov"]
        assert await admin(host, "/attendance 2026-09") == [
            "Absences 2026-09-01..2026-09-30: 7 in total, 4 students\n"
            "Anna Petrova: 2 (math 1, whole day 1)\n"
            "Ivan Ivanov: 2 (math 1, physics 1)\n"
            "Oleg Sidorov: 2 (physics 1, whole day 1)\n"
            "Petr Ivanov: 1 (whole day 1)"
        ]


async def test_marking_twice_changes_nothing(storage_url: str, tmp_path: Path) -> None:
    settings = {"lessons": LESSONS, "exports_dir": str(tmp_path / "out")}
    async with running(storage_url, settings) as host:
        command = "/absent Petrova, Sidorov --lesson math --date 2026-09-01"
        assert await admin(host, command) == [
            "Marked absent on 2026-09-01, math: Anna Petrova, Oleg Sidorov"
        ]
        assert await admin(host, command, user_id=2) == [
            "Already marked absent on 2026-09-01, math: Anna Petrova, Oleg Sidorov"
        ]
        assert await admin(host, "/absent 13, Ivan Ivanov --lesson math --date 2026-09-01") == [
            "Marked absent on 2026-09-01, math: Ivan Ivanov\n"
            "Already marked absent on 2026-09-01, math: Anna Petrova"
        ]
        rows = await export_rows(host)
        # The first marking is kept as it was: who marked it.
        assert [(r["name"], r["marked_by"]) for r in rows] == [
            ("Anna Petrova", "1"),
            ("Ivan Ivanov", "1"),
            ("Oleg Sidorov", "1"),
        ]


async def test_ambiguous_or_unknown_students_write_nothing(storage_url: str) -> None:
    async with running(storage_url) as host:
        assert await admin(
            host, "/absent Anna Petrova, Ivanov --lesson math --date 2026-09-01"
        ) == [
            "Nothing was recorded:\n"
            "- 'Ivanov' could be any of: Ivan Ivanov (id11), Petr Ivanov (id12); "
            "use an id or a mention"
        ]
        assert await admin(host, "/absent Petrova, Ivanov Sidorov, Smith --date 2026-09-01") == [
            "Nothing was recorded:\n"
            "- nobody called 'Ivanov Sidorov' is in the member list; "
            "separate students with commas\n"
            "- nobody called 'Smith' is in the member list"
        ]
        assert await admin(host, "/absent 0 --date 2026-09-01") == [
            "Nothing was recorded:\n- '0' is not a user id"
        ]
        assert await admin(host, "/attendance 2026-09") == NOTHING_IN_SEPTEMBER


NOT_A_DATE = f"not a date (YYYY-MM-DD)\n{ABSENT_USAGE}"
NO_LESSON = f"--lesson needs a value: --lesson NAME\n{ABSENT_USAGE}"


async def test_bad_arguments_are_explained_and_write_nothing(storage_url: str) -> None:
    cases = {
        "/absent Petrova --date 2026-13-01": f"--date 2026-13-01: {NOT_A_DATE}",
        "/absent Petrova --date 2026-09-1": f"--date 2026-09-1: {NOT_A_DATE}",
        "/absent Petrova --date=01.09.2026": f"--date 01.09.2026: {NOT_A_DATE}",
        "/absent Petrova --lesson chem --date 2026-09-01": (
            "unknown lesson 'chem'; the lessons are: math, physics\nNothing was recorded."
        ),
        "/absent Petrova --date 2026-09-01 --lesson": NO_LESSON,
        "/absent Petrova --lesson --date 2026-09-01": NO_LESSON,
        "/absent Petrova --colour red --date 2026-09-01": (
            f"unknown option --colour; use --lesson NAME and --date YYYY-MM-DD\n{ABSENT_USAGE}"
        ),
        "/absent Petrova --lesson math --lesson physics --date 2026-09-01": (
            f"--lesson is given twice\n{ABSENT_USAGE}"
        ),
        "/absent --lesson math --date 2026-09-01": f"Name at least one student.\n{ABSENT_USAGE}",
        "/absent": f"Name at least one student.\n{ABSENT_USAGE}",
    }  # fmt: skip
    async with running(storage_url) as host:
        for command, expected in cases.items():
            assert await admin(host, command) == [expected], command
            assert await admin(host, "/attendance 2026-09") == NOTHING_IN_SEPTEMBER, command


async def test_members_cannot_mark(storage_url: str) -> None:
    async with running(storage_url) as host:
        reply = await host.send("/absent Petrova --date 2026-09-01", user_id=13)
        assert reply == ["Only admins can use absent."]
        assert await host.send("/present Petrova --date 2026-09-01", user_id=13) == [
            "Only admins can use present."
        ]
        assert await admin(host, "/attendance 2026-09") == NOTHING_IN_SEPTEMBER


async def test_present_takes_marks_back(storage_url: str) -> None:
    async with running(storage_url) as host:
        for lesson in ("--lesson math", "--lesson physics", ""):
            await admin(host, f"/absent Petrova, Sidorov {lesson} --date 2026-09-01")
        await admin(host, "/absent Petrova --lesson math --date 2026-09-02")

        assert await admin(host, "/present Petrova --lesson math --date 2026-09-01") == [
            "Removed marks on 2026-09-01: Anna Petrova (math)"
        ]
        # Without --lesson: every mark of that day.
        assert await admin(host, "/present Petrova, [id14|Oleg] --date 2026-09-01") == [
            "Removed marks on 2026-09-01: Anna Petrova (physics, whole day), "
            "Oleg Sidorov (math, physics, whole day)"
        ]
        assert await admin(host, "/present Petrova --lesson math --date 2026-09-01") == [
            "Nothing to remove on 2026-09-01 (no mark for math): Anna Petrova"
        ]
        assert await admin(host, "/present Sidorov, Ivan Ivanov --date 2026-09-01") == [
            "Nothing to remove on 2026-09-01 (no marks): Oleg Sidorov, Ivan Ivanov"
        ]
        # Same parsing, same all-or-nothing rule.
        assert await admin(host, "/present Petrova, Ivanov --date 2026-09-02") == [
            "Nothing was removed:\n"
            "- 'Ivanov' could be any of: Ivan Ivanov (id11), Petr Ivanov (id12); "
            "use an id or a mention"
        ]
        assert await admin(host, "/attendance 2026-09") == [
            "Absences 2026-09-01..2026-09-30: 1 in total, 1 student\nAnna Petrova: 1 (math 1)"
        ]


async def test_members_see_only_their_own_absences(storage_url: str) -> None:
    async with running(storage_url) as host:
        await admin(host, "/absent Petrova, Sidorov --lesson physics --date 2026-09-01")
        await admin(host, "/absent Petrova --lesson math --date 2026-09-01")
        await admin(host, "/absent Petrova --date 2026-10-05")
        assert await host.send("/attendance", user_id=13) == [
            "Your absences: 3 (math 1, physics 1, whole day 1)\n"
            "2026-09-01: math, physics\n"
            "2026-10-05: whole day"
        ]
        assert await host.send("/attendance", user_id=11) == ["You have no recorded absences."]
        refusal = (
            "Only admins can see other students' absences or choose dates. "
            "Send /attendance alone to see your own absences."
        )
        for other in ("2026-09-01..2026-09-30", "Sidorov", "14", "2026-09"):
            assert await host.send(f"/attendance {other}", user_id=13) == [refusal]
        assert await host.send("/attendance export", user_id=13) == [
            "Only admins can export attendance."
        ]


async def test_admins_see_a_student_and_ranges(storage_url: str) -> None:
    async with running(storage_url) as host:
        await admin(host, "/absent Petrova, Sidorov, Ivan Ivanov --lesson math --date 2026-09-01")
        await admin(host, "/absent Petrova, Sidorov --lesson physics --date 2026-09-15")
        await admin(host, "/absent Sidorov --date 2026-10-01")
        await admin(host, "/absent Petrova --lesson math --date 2026-12-31")

        assert await admin(host, "/attendance 2026-09-01..2026-12-31") == [
            "Absences 2026-09-01..2026-12-31: 7 in total, 3 students\n"
            "Anna Petrova: 3 (math 2, physics 1)\n"
            "Oleg Sidorov: 3 (math 1, physics 1, whole day 1)\n"
            "Ivan Ivanov: 1 (math 1)"
        ]
        assert await admin(host, "/attendance 2026-09-15") == [
            "Absences 2026-09-15: 2 in total, 2 students\n"
            "Anna Petrova: 1 (physics 1)\n"
            "Oleg Sidorov: 1 (physics 1)"
        ]
        assert await admin(host, "/attendance Sidorov 2026-09") == [
            "Absences of Oleg Sidorov, 2026-09-01..2026-09-30: 2 (math 1, physics 1)\n"
            "2026-09-01: math\n"
            "2026-09-15: physics"
        ]
        assert await admin(host, "/attendance [id11|Ivan]") == [
            "Absences of Ivan Ivanov: 1 (math 1)\n2026-09-01: math"
        ]
        assert await admin(host, "/attendance Petr Ivanov") == ["Absences of Petr Ivanov: none."]
        assert await admin(host, "/attendance Ivanov") == [
            "'Ivanov' could be any of: Ivan Ivanov (id11), Petr Ivanov (id12); "
            "use an id or a mention"
        ]
        assert await admin(host, "/attendance 2027-01") == ["No absences 2027-01-01..2027-01-31."]


async def test_bad_ranges_are_explained(storage_url: str) -> None:
    usage = "Usage: /attendance [export] [STUDENT] [START..END | YYYY-MM-DD | YYYY-MM]"
    cases = {
        "2026-12-31..2026-09-01": "2026-12-31..2026-09-01: the start is after the end",
        "2026-09-31..2026-12-31": "2026-09-31..2026-12-31: 2026-09-31 is not a date (YYYY-MM-DD)",
        "2026-09-01..": "2026-09-01..: nothing is not a date (YYYY-MM-DD)",
        "2026-02-30": "2026-02-30: 2026-02-30 is not a date (YYYY-MM-DD)",
        "2026-13": "2026-13: 2026-13 is not a date (YYYY-MM-DD)",
        "Petrova, Sidorov": "one student at a time",
        "export Petrova": "export takes at most a range of days: "
        "START..END, e.g. 2026-09-01..2026-12-31",
        "export 2026-09-02..2026-09-01": "2026-09-02..2026-09-01: the start is after the end",
    }
    async with running(storage_url) as host:
        for args, expected in cases.items():
            assert await admin(host, f"/attendance {args}") == [f"{expected}\n{usage}"], args


async def test_the_default_table_is_the_current_month(storage_url: str) -> None:
    today = date.today()  # the plugin's default day (see its docstring)
    first = today.replace(day=1)
    async with running(storage_url) as host:
        assert await admin(host, "/absent Petrova --lesson math") == [
            f"Marked absent on {today}, math: Anna Petrova"
        ]
        (table,) = await admin(host, "/attendance")
        header, *rows = table.splitlines()
        assert header.startswith(f"Absences {first}..{first.year}-{first.month:02d}-")
        assert header.endswith(": 1 in total, 1 student")
        assert rows == ["Anna Petrova: 1 (math 1)"]


async def test_long_tables_are_split_on_lines(storage_url: str) -> None:
    family = "Konstantinopolskaya-Verkhovenskaya"
    roster = [MemberInfo(1000 + i, f"Student{i:03d}", family) for i in range(300)]
    ids = " ".join(str(m.user_id) for m in roster)
    async with running(storage_url, roster=roster) as host:
        marked = await admin(host, f"/absent {ids} --lesson math --date 2026-09-01")
        assert all(len(m) <= 4096 for m in marked)
        # One long line of names, cut between names.
        assert len(marked) > 1
        assert marked[0].startswith("Marked absent on 2026-09-01, math: Student000 Konst")
        names = ", ".join(f"{m.first_name} {m.last_name}" for m in roster)
        assert " ".join(marked) == f"Marked absent on 2026-09-01, math: {names}"
        await admin(host, f"/absent {' '.join(ids.split()[:100])} --date 2026-09-02")

        messages = await admin(host, "/attendance 2026-09")
        assert len(messages) > 1
        assert all(len(m) <= 4096 for m in messages)
        lines = [line for m in messages for line in m.splitlines()]
        assert lines[0] == "Absences 2026-09-01..2026-09-30: 400 in total, 300 students"
        rows = lines[1:]
        assert len(rows) == 300
        assert all(r.startswith("Student") and r.endswith(")") for r in rows)
        # Most absences first, then by name; no line is cut between messages.
        assert rows[0] == "Student000 Konstantinopolskaya-Verkhovenskaya: 2 (math 1, whole day 1)"
        assert rows[99].startswith("Student099 ")
        assert rows[100].startswith("Student100 ")
        assert rows[-1] == "Student299 Konstantinopolskaya-Verkhovenskaya: 1 (math 1)"


def exported(reply: str) -> tuple[Path, bytes]:
    """The file an export reply names, and its bytes."""
    path = Path(reply.rpartition(" written to ")[2])
    assert path.is_absolute()
    return path, path.read_bytes()


def rows_of(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def mode_of(path: Path) -> int:
    return path.stat().st_mode


async def export_rows(host: TestHost, args: str = "") -> list[dict[str, str]]:
    (reply,) = await admin(host, f"/attendance export {args}".strip())
    return rows_of(exported(reply)[1])


async def test_export_writes_a_csv_file(storage_url: str, tmp_path: Path) -> None:
    exports = tmp_path / "my-exports"
    async with running(storage_url, {"lessons": LESSONS, "exports_dir": str(exports)}) as host:
        assert await admin(host, "/attendance export") == ["No marks to export (all marks)."]
        await admin(host, "/absent Sidorov, Petrova --lesson physics --date 2026-09-01")
        await admin(host, "/absent 77 --date 2026-08-31", user_id=2)
        await admin(host, "/absent Petrova --lesson math --date 2026-10-01")

        (reply,) = await admin(host, "/attendance export 2026-09-01..2026-10-01")
        assert reply.startswith("Attendance export, 2026-09-01..2026-10-01: 3 marks, written to ")
        path, raw = exported(reply)
        assert path.parent == exports
        assert path.name.startswith("attendance-memory-2026-09-01_2026-10-01-")
        assert path.suffix == ".csv"
        assert raw.startswith("\ufeffdate,lesson,user_id,name,marked_by,marked_at\r\n".encode())
        rows = rows_of(raw)
        assert [
            (r["date"], r["lesson"], r["user_id"], r["name"], r["marked_by"]) for r in rows
        ] == [
            ("2026-09-01", "physics", "13", "Anna Petrova", "1"),
            ("2026-09-01", "physics", "14", "Oleg Sidorov", "1"),
            ("2026-10-01", "math", "13", "Anna Petrova", "1"),
        ]
        for row in rows:
            assert datetime.fromisoformat(row["marked_at"]).utcoffset() is not None

        everything = await export_rows(host)
        assert len(everything) == 4
        first = everything[0]
        assert (first["date"], first["lesson"], first["name"], first["marked_by"]) == (
            "2026-08-31",
            "",
            "id77",
            "2",
        )


async def test_exports_go_beside_the_sqlite_database_by_default(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'bot.db'}"
    (tmp_path / "data").mkdir()
    async with running(url) as host:
        await admin(host, "/absent Petrova --date 2026-09-01")
        (reply,) = await admin(host, "/attendance export")
        path, _ = exported(reply)
        assert path.parent == tmp_path / "data" / "exports"
        assert mode_of(path) & 0o077 == 0  # names are personal data: owner only


async def test_marks_survive_a_restart(storage_url: str) -> None:
    async with running(storage_url) as host:
        await admin(host, "/absent Petrova, Sidorov --lesson math --date 2026-09-01")
    async with make_host(storage_url) as host:  # the member list is stored too
        assert await admin(host, "/attendance 2026-09") == [
            "Absences 2026-09-01..2026-09-30: 2 in total, 2 students\n"
            "Anna Petrova: 1 (math 1)\n"
            "Oleg Sidorov: 1 (math 1)"
        ]
        assert await admin(host, "/absent Petrova --lesson math --date 2026-09-01") == [
            "Already marked absent on 2026-09-01, math: Anna Petrova"
        ]


async def test_without_lessons_any_word_is_a_lesson(storage_url: str) -> None:
    async with running(storage_url, {}) as host:
        assert await admin(host, "/absent Petrova --lesson Lab --date 2026-09-01") == [
            "Marked absent on 2026-09-01, lab: Anna Petrova"
        ]
        assert await admin(host, "/absent Petrova --date 2026-09-01") == [
            "Marked absent on 2026-09-01, whole day: Anna Petrova"
        ]
        assert await admin(host, "/attendance Petrova") == [
            "Absences of Anna Petrova: 2 (lab 1, whole day 1)\n2026-09-01: lab, whole day"
        ]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"lesson": ["math"]}, "unknown setting(s) lesson; attendance knows lessons, exports_dir"),
        ({"lessons": "math"}, "lessons must be a list of names"),
        ({"lessons": ["linear algebra"]}, "lesson 'linear algebra' must be one word"),
        ({"lessons": ["math", "Math"]}, "lesson 'Math' is listed twice"),
        ({"exports_dir": 3}, "exports_dir must be a folder path"),
    ],
)
async def test_bad_settings_refuse_the_plugin(
    tmp_path: Path, settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(PluginLoadError) as info:
        async with make_host(f"sqlite:///{tmp_path / 'bot.db'}", settings):
            pass
    assert message in str(info.value)
