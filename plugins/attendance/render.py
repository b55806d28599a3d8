"""The texts the plugin replies with, as lines, and packing lines into messages."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import date

from botrt.adapter import MESSAGE_LIMIT, split_text
from botrt.i18n import plugin_translator

from .roster import Student
from .store import WHOLE_DAY, Mark

T = plugin_translator()
_ = T.gettext


def lesson_label(lesson: str) -> str:
    """How a lesson is shown: its name, or "whole day"."""
    return lesson or _("whole day")


def marked(day: date, lesson: str, new: Sequence[Student], already: Sequence[Student]) -> list[str]:
    """The reply to ``absent``: who was marked, and who already was."""
    where = f"{day}, {lesson_label(lesson)}"
    lines = []
    if new:
        lines.append(_("Marked absent on {where}: {names}").format(where=where, names=_names(new)))
    if already:
        lines.append(
            _("Already marked absent on {where}: {names}").format(
                where=where, names=_names(already)
            )
        )
    return lines


def removed(
    day: date,
    lesson: str | None,
    gone: Sequence[tuple[Student, Sequence[str]]],
    untouched: Sequence[Student],
    order: Sequence[str],
) -> list[str]:
    """The reply to ``present``: whose marks were removed, and who had none to remove."""
    lines = []
    if gone:
        parts = [
            f"{s.label} ({', '.join(map(lesson_label, _ordered(ls, order)))})" for s, ls in gone
        ]
        lines.append(_("Removed marks on {day}: {marks}").format(day=day, marks=", ".join(parts)))
    if untouched:
        if lesson is None:
            what = _("no marks")
        else:
            what = _("no mark for {lesson}").format(lesson=lesson_label(lesson))
        lines.append(
            _("Nothing to remove on {day} ({what}): {names}").format(
                day=day, what=what, names=_names(untouched)
            )
        )
    return lines


def absences(title: str, marks: Sequence[Mark], order: Sequence[str]) -> list[str]:
    """One student's absences: a total with per-lesson counts, then one line per day."""
    if not marks:
        return [_("{title}: none.").format(title=title)]
    total = T.ngettext("{title}: {n} ({counts})", "{title}: {n} ({counts})", len(marks))
    lines = [total.format(title=title, n=len(marks), counts=_counts(marks, order))]
    by_day: dict[date, list[str]] = defaultdict(list)
    for m in marks:
        by_day[m.day].append(m.lesson)
    for day in sorted(by_day):
        lines.append(f"{day}: {', '.join(map(lesson_label, _ordered(by_day[day], order)))}")
    return lines


def table(
    span: str, marks: Sequence[Mark], names: Mapping[int, str], order: Sequence[str]
) -> list[str]:
    """The absences of every student over `span`: one line each, most absences first."""
    if not marks:
        return [_("No absences {span}.").format(span=span)]
    per_student: dict[int, list[Mark]] = defaultdict(list)
    for m in marks:
        per_student[m.user_id].append(m)
    rows = sorted(
        per_student.items(),
        key=lambda item: (-len(item[1]), names[item[0]].casefold(), item[0]),
    )
    total = T.ngettext("{n} in total", "{n} in total", len(marks)).format(n=len(marks))
    students = T.ngettext("{n} student", "{n} students", len(rows)).format(n=len(rows))
    lines = [
        _("Absences {span}: {total}, {students}").format(span=span, total=total, students=students)
    ]
    for uid, ms in rows:
        line = T.ngettext("{name}: {n} ({counts})", "{name}: {n} ({counts})", len(ms))
        lines.append(line.format(name=names[uid], n=len(ms), counts=_counts(ms, order)))
    return lines


def pack(lines: Sequence[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join lines into messages of at most `limit` characters, cut at line ends.

    A single line longer than `limit` (a long list of names) is cut at a space.
    """
    return split_text("\n".join(lines), limit)


def _names(students: Sequence[Student]) -> str:
    return ", ".join(s.label for s in students)


def _counts(marks: Sequence[Mark], order: Sequence[str]) -> str:
    counts = Counter(m.lesson for m in marks)
    return ", ".join(f"{lesson_label(x)} {counts[x]}" for x in _ordered(counts, order))


def _ordered(lessons: Sequence[str] | Counter[str], order: Sequence[str]) -> list[str]:
    # Configured lessons in their configured order, then others by name, the whole day last.
    rank = {lesson: i for i, lesson in enumerate(order)}
    return sorted(
        set(lessons),
        key=lambda x: (x == WHOLE_DAY, rank.get(x, len(rank)), x),
    )
