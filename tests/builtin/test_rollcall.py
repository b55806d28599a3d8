"""attendance's ``rollcall``: a keyboard of the roster, toggles, pages, one write on "Done"."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from botrt.adapter import Keyboard, MemberInfo
from botrt.testing import ManualClock, MemoryEvent, TestHost

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugins" / "attendance"
ROSTER = [
    MemberInfo(11, "Ivan", "Ivanov"),
    MemberInfo(12, "Petr", "Ivanov"),
    MemberInfo(13, "Anna", "Petrova"),
]
START = "/rollcall --lesson math --date 2026-09-01"
SEPTEMBER = "/attendance 2026-09"
NONE_IN_SEPTEMBER = ["No absences 2026-09-01..2026-09-30."]


def make_host(storage_url: str, **options: Any) -> TestHost:
    config = {
        "storage": {"url": storage_url},
        "plugins": {"settings": {"attendance": {"lessons": ["math", "physics"]}}},
    }
    config.update(options.pop("config", {}))
    return TestHost(plugins=[PLUGIN], config=config, **options)


async def admin(host: TestHost, text: str) -> list[str]:
    return await host.send(text, role="admin")


async def tap(host: TestHost, label: str) -> list[str]:
    return await host.press(label, role="admin")


def keyboard(host: TestHost) -> Keyboard:
    shown = host.outbound.messages[-1].keyboard
    assert shown is not None
    return shown


async def test_taps_toggle_and_done_records_every_mark_at_once(storage_url: str) -> None:
    async with make_host(storage_url) as host:
        await host.host.members.sync("memory", ROSTER)
        assert await admin(host, START) == [
            "Roll call on 2026-09-01, math: 3 students. Tap who is absent, then Done."
        ]
        kb = keyboard(host)
        assert not kb.inline
        assert [[b.label for b in row] for row in kb.rows] == [
            ["Ivan Ivanov", "Petr Ivanov"],  # by last name, as the member list is
            ["Anna Petrova"],
            ["Done", "Cancel"],
        ]
        assert await tap(host, "Ivan Ivanov") == ["1 absent: Ivan Ivanov. Tap more, or Done."]
        assert await tap(host, "Anna Petrova") == [
            "2 absent: Ivan Ivanov, Anna Petrova. Tap more, or Done."
        ]
        # A second tap takes the mark back; the absent are marked on the keyboard.
        assert keyboard(host).find("❌ Anna Petrova") is not None
        assert await tap(host, "❌ Anna Petrova") == ["1 absent: Ivan Ivanov. Tap more, or Done."]
        assert await admin(host, SEPTEMBER) == ["Tap a name on the keyboard, then Done."]
        # Nothing is written before Done: another admin reads nothing yet.
        assert await host.send(SEPTEMBER, user_id=2, role="admin") == NONE_IN_SEPTEMBER
        assert await tap(host, "Done") == [
            "Roll call on 2026-09-01, math: 1 of 3 absent.\n"
            "Marked absent on 2026-09-01, math: Ivan Ivanov"
        ]
        assert host.outbound.keyboards(1) == []  # the names are taken off the screen
        assert await admin(host, SEPTEMBER) == [
            "Absences 2026-09-01..2026-09-30: 1 in total, 1 student\nIvan Ivanov: 1 (math 1)"
        ]
        # A second roll call of the same lesson keeps the marks already there.
        await admin(host, START)
        await tap(host, "Ivan Ivanov")
        await tap(host, "Petr Ivanov")
        assert await tap(host, "Done") == [
            "Roll call on 2026-09-01, math: 2 of 3 absent.\n"
            "Marked absent on 2026-09-01, math: Petr Ivanov\n"
            "Already marked absent on 2026-09-01, math: Ivan Ivanov"
        ]


async def test_typing_a_label_works_like_a_press_and_nobody_absent_writes_nothing(
    storage_url: str,
) -> None:
    async with make_host(storage_url) as host:
        await host.host.members.sync("memory", ROSTER)
        await admin(host, "/rollcall --date 2026-09-01")
        assert await admin(host, "Petr Ivanov") == ["1 absent: Petr Ivanov. Tap more, or Done."]
        assert await admin(host, "❌ Petr Ivanov") == [
            "Nobody is marked absent. Tap who is absent, then Done."
        ]
        assert await admin(host, "Done") == [
            "Roll call on 2026-09-01, whole day: everybody is present."
        ]
        assert await admin(host, SEPTEMBER) == NONE_IN_SEPTEMBER


async def test_a_long_roster_has_pages(storage_url: str) -> None:
    roster = [MemberInfo(100 + i, f"Name{i:02}", "Student") for i in range(20)]
    async with make_host(storage_url) as host:
        await host.host.members.sync("memory", roster)
        await admin(host, START)
        first = keyboard(host)
        assert len(first.rows) == 10  # 8 rows of names, paging, Done/Cancel: VK's most
        assert [b.label for b in first.rows[-2]] == ["Next ▶"]
        assert first.find("Name16 Student") is None
        assert await tap(host, "Name00 Student") == [
            "1 absent: Name00 Student. Tap more, or Done. (page 1 of 2)"
        ]
        assert await tap(host, "Next ▶") == [
            "1 absent: Name00 Student. Tap more, or Done. (page 2 of 2)"
        ]
        second = keyboard(host)
        assert [b.label for b in second.rows[0]] == ["Name16 Student", "Name17 Student"]
        assert [b.label for b in second.rows[-2]] == ["◀ Back"]
        await tap(host, "Name19 Student")
        await tap(host, "◀ Back")
        assert keyboard(host).find("❌ Name00 Student") is not None
        assert (await tap(host, "Done"))[0].startswith("Roll call on 2026-09-01, math: 2 of 20")
        (table,) = await admin(host, SEPTEMBER)
        assert table.splitlines()[0] == "Absences 2026-09-01..2026-09-30: 2 in total, 2 students"


async def test_a_long_name_is_cut_to_vks_label_limit(storage_url: str) -> None:
    long = MemberInfo(11, "Konstantin", "Konstantinopolsky-Zaporozhsky-Ivanov")
    async with make_host(storage_url) as host:
        await host.host.members.sync("memory", [long])
        await admin(host, START)
        (button,) = keyboard(host).rows[0]
        assert button.label == "Konstantin Konstantinopolsky-Zaporozhsky-Ivanov"[:39] + "…"
        await tap(host, button.label)
        (marked,) = keyboard(host).rows[0]
        assert len(marked.label) == 40
        assert marked.label.startswith("❌ Konstantin")


async def test_cancel_button_and_cancel_word_record_nothing(storage_url: str) -> None:
    async with make_host(storage_url) as host:
        await host.host.members.sync("memory", ROSTER)
        await admin(host, START)
        await tap(host, "Ivan Ivanov")
        assert await tap(host, "Cancel") == ["Roll call cancelled: nothing was recorded."]
        assert host.outbound.keyboards(1) == []
        await admin(host, START)
        await tap(host, "Anna Petrova")
        assert await admin(host, "/cancel") == ["Roll call cancelled: nothing was recorded."]
        assert await admin(host, SEPTEMBER) == NONE_IN_SEPTEMBER


async def test_a_timeout_records_nothing(storage_url: str) -> None:
    start = dt.datetime(2026, 9, 1, 9, 0, tzinfo=dt.UTC)
    clock = ManualClock(start)
    config = {"conversations": {"timeout": 60}}
    async with make_host(storage_url, clock=clock, config=config) as host:
        await host.host.members.sync("memory", ROSTER)
        await admin(host, START)
        tapped = MemoryEvent("Ivan Ivanov", role="admin", outbound=host.outbound)
        tapped.payload = keyboard(host).find("Ivan Ivanov").payload  # type: ignore[union-attr]
        await host.emit(tapped)
        clock.advance(start + dt.timedelta(seconds=61))
        await host.settle()
        assert tapped.replies[-1] == (
            "Roll call ended: no answer came in time. Nothing was recorded."
        )
        assert host.outbound.keyboards(1) == []
        assert await admin(host, SEPTEMBER) == NONE_IN_SEPTEMBER


async def test_a_restart_mid_way_records_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    async with make_host(url) as host:
        await host.host.members.sync("memory", ROSTER)
        await admin(host, START)
        await tap(host, "Ivan Ivanov")
        tapped = host.outbound.messages
    # Leaving `async with` stops the host, as a restart does.
    assert tapped[-1].text == (
        "Roll call interrupted: the bot is restarting. Nothing was recorded; start it again."
    )
    assert [m for m in tapped if m.keyboard] == []  # the empty keyboard took the names off
    async with make_host(url) as host:
        assert await admin(host, SEPTEMBER) == NONE_IN_SEPTEMBER
        assert await admin(host, "Done") == []  # the old keyboard's press finds no roll call


async def test_bad_arguments_and_an_empty_roster_are_answered(storage_url: str) -> None:
    async with make_host(storage_url) as host:
        assert await admin(host, "/rollcall") == [
            "No members are stored for this bot yet: there is nobody to call."
        ]
        await host.host.members.sync("memory", ROSTER)
        usage = "Usage: rollcall [--lesson NAME] [--date YYYY-MM-DD]"
        assert await admin(host, "/rollcall Ivanov") == [
            f"The roll call takes no students: it shows them all.\n{usage}"
        ]
        assert await admin(host, "/rollcall --lesson art") == [
            f"unknown lesson 'art'; the lessons are: math, physics\n{usage}"
        ]
        assert await host.send("/rollcall") == ["Only admins can use rollcall."]


async def test_russian_texts_and_plurals(storage_url: str) -> None:
    roster = [MemberInfo(100 + i, f"Имя{i:02}", "Фамилия") for i in range(21)]
    async with make_host(storage_url, config={"bot": {"language": "ru"}}) as host:
        await host.host.members.sync("memory", roster)
        assert await admin(host, "/перекличка --lesson math --date 2026-09-01") == [
            "Перекличка 2026-09-01, math: 21 студент. Нажмите на отсутствующих, затем «Готово»."
        ]
        assert await tap(host, "Имя00 Фамилия") == [
            "Отсутствует 1: Имя00 Фамилия. Отметьте ещё или нажмите «Готово». (страница 1 из 2)"
        ]
        await tap(host, "Имя01 Фамилия")
        assert (await tap(host, "Дальше ▶"))[0].startswith("Отсутствуют 2:")
        assert await tap(host, "Готово") == [
            "Перекличка 2026-09-01, math: отсутствуют 2 из 21.\n"
            "Отмечены прогулы 2026-09-01, math: Имя00 Фамилия, Имя01 Фамилия"
        ]
        await admin(host, "/перекличка")
        assert await tap(host, "Отмена") == ["Перекличка отменена: ничего не записано."]
