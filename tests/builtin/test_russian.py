"""The built-in plugins with ``[bot] language = "ru"``: texts, plural forms, command names."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import anyio
import pytest

from botrt.adapter import MemberInfo
from botrt.i18n import missing_translations
from botrt.testing import TestHost

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
BUILTINS = [PLUGINS / "help", PLUGINS / "broadcast", PLUGINS / "attendance"]
RU = {"bot": {"language": "ru"}}
ADMIN = 1


def people(count: int) -> list[MemberInfo]:
    members = [MemberInfo(ADMIN, "Ада", "Админова", "administrator")]
    return members + [MemberInfo(i, f"Имя{i}", f"Фамилия{i}") for i in range(100, 100 + count)]


def read_csv(folder: Path) -> list[list[str]]:
    (path,) = folder.glob("*.csv")
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


@pytest.mark.parametrize("folder", BUILTINS, ids=lambda p: p.name)
def test_every_text_of_the_builtins_has_a_russian_translation(folder: Path) -> None:
    assert missing_translations(folder, ["ru"]) == []


async def test_help_lists_commands_under_their_russian_names_and_english_ones_still_work() -> None:
    async with TestHost(plugins=BUILTINS, config=RU) as host:
        (listing,) = await host.send("/помощь", role="admin")
        lines = listing.splitlines()
        assert lines[0] == "Команды:"
        assert "/прогул - отметить прогулы студентов (для админов)" in lines
        assert "/рассылка-админам - рассылка сообщения админам сообщества (для админов)" in lines
        assert "/помощь - список доступных команд или описание одной" in lines
        assert lines[-1] == "Подробнее о команде: /помощь КОМАНДА."
        assert await host.send("/help", role="admin") == [listing]
        assert await host.send("/h", role="admin") == [listing]
        assert await host.send("/помощь был", role="admin") == [
            "/был СТУДЕНТ... [--lesson НАЗВАНИЕ] [--date ГГГГ-ММ-ДД]\n"
            "снять отметки о прогулах\n"
            "Другие имена: /present\n"
            "Только для админов.\n"
            "Плагин: attendance"
        ]
        (member_view,) = await host.send("/помощь")
        assert "/прогул" not in member_view
        assert await host.send("/помощь нет") == [
            "Нет команды 'нет'. Отправьте /помощь, чтобы увидеть список."
        ]


async def test_the_same_bot_in_english_keeps_english_names() -> None:
    async with TestHost(plugins=BUILTINS) as host:
        (listing,) = await host.send("/help", role="admin")
        assert "/absent - mark students absent (admins)" in listing
        assert "прогул" not in listing


async def test_broadcast_speaks_russian_with_plural_forms_in_the_reply_and_report() -> None:
    async with TestHost(plugins=BUILTINS, config=RU) as host:
        await host.host.members.sync("memory", people(4))
        assert await host.send("/рассылка Пара перенесена", role="admin") == [
            "Рассылка №1 начата: 5 получателей."
        ]
        with anyio.fail_after(10):
            await host.host.background.wait_idle("broadcast")
        (report,) = [t for t in host.outbound.to(ADMIN) if t.startswith("Рассылка №1")]
        assert report.splitlines() == [
            "Рассылка №1 завершена: всем участникам.",
            'Текст: "Пара перенесена"',
            "План: 5 сообщений",
            "Разослано: 5",
            "Ошибки: 0",
        ]
        await host.host.members.sync("memory", people(1))
        assert await host.send("/mb ещё", role="admin") == ["Рассылка №2 начата: 2 получателя."]
        with anyio.fail_after(10):
            await host.host.background.wait_idle("broadcast")
        (second,) = [t for t in host.outbound.to(ADMIN) if t.startswith("Рассылка №2")]
        assert "План: 2 сообщения" in second.splitlines()
        assert await host.send("/рассылка-админам отмена №2", role="admin") == [
            "Рассылка №2 не идёт (она завершена)."
        ]
        (status,) = await host.send("/рассылка статус", role="admin")
        assert status.startswith("Рассылки:\n№2 завершена, всем участникам: план 2, разослано 2")


async def test_one_admin_broadcast_counts_one_message() -> None:
    async with TestHost(plugins=BUILTINS, config=RU) as host:
        assert await host.send("/рассылка-админам Собрание", role="admin") == [
            "Рассылка №1 начата: 1 получатель."
        ]
        with anyio.fail_after(10):
            await host.host.background.wait_idle("broadcast")
        (report,) = [t for t in host.outbound.to(ADMIN) if t.startswith("Рассылка №1")]
        assert "План: 1 сообщение" in report.splitlines()
        assert report.splitlines()[0] == "Рассылка №1 завершена: админам."


@pytest.mark.parametrize(
    ("days", "word"), [(1, "1 прогул"), (3, "3 прогула"), (5, "5 прогулов"), (11, "11 прогулов")]
)
async def test_attendance_counts_absences_with_russian_plural_forms(days: int, word: str) -> None:
    async with TestHost(plugins=BUILTINS, config=RU) as host:
        await host.host.members.sync("memory", people(1))
        for day in range(1, days + 1):
            (marked,) = await host.send(f"/прогул Имя100 --date 2026-09-{day:02d}", role="admin")
            assert marked == f"Отмечены прогулы 2026-09-{day:02d}, весь день: Имя100 Фамилия100"
        (table,) = await host.send("/посещаемость 2026-09", role="admin")
        assert table.splitlines() == [
            f"Прогулы 2026-09-01..2026-09-30: всего {word}, 1 студент",
            f"Имя100 Фамилия100: {word} (весь день {days})",
        ]
        (own,) = await host.send("/посещаемость", user_id=100)
        assert own.splitlines()[0] == f"Ваши прогулы: {word} (весь день {days})"


async def test_attendance_refusals_and_errors_are_russian() -> None:
    async with TestHost(plugins=BUILTINS, config=RU) as host:
        assert await host.send("/посещаемость экспорт", user_id=100) == [
            "Выгружать посещаемость могут только админы."
        ]
        assert await host.send("/прогул --lesson", role="admin") == [
            "после --lesson нужно значение: --lesson НАЗВАНИЕ\n"
            "Использование: /прогул СТУДЕНТ... [--lesson НАЗВАНИЕ] [--date ГГГГ-ММ-ДД]"
        ]
        assert await host.send("/был Никто", role="admin") == [
            "Ничего не снято:\n- в списке участников нет 'Никто'"
        ]


async def test_attendance_export_has_russian_csv_headers(tmp_path: Path) -> None:
    config = {**RU, "plugins": {"settings": {"attendance": {"exports_dir": str(tmp_path)}}}}
    async with TestHost(plugins=BUILTINS, config=config) as host:
        await host.host.members.sync("memory", people(1))
        await host.send("/прогул Имя100 --date 2026-09-01 --lesson math", role="admin")
        (reply,) = await host.send("/посещаемость экспорт 2026-09", role="admin")
        assert reply.startswith(
            "Выгрузка посещаемости, 2026-09-01..2026-09-30: 1 прогул, записана в"
        )
    rows = read_csv(tmp_path)
    assert rows[0] == ["дата", "занятие", "id", "имя", "отметил", "когда отмечено"]
    assert rows[1][:4] == ["2026-09-01", "math", "100", "Имя100 Фамилия100"]
