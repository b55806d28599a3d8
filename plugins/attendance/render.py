"""The texts the plugin replies with, as lines, and packing lines into messages."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import date

from botrt.adapter import MESSAGE_LIMIT, split_text

from .roster import Student
from .store import WHOLE_DAY, Mark


def lesson_label(lesson: str) -> str:
    """How a lesson is shown: its name, or "whole day"."""
    return lesson or "whole day"


def marked(day: date, lesson: str, new: Sequence[Student], already: Sequence[Student]) -> list[str]:
    """The reply to ``absent``: who was marked, and who already was."""
    where = f"{day}, {lesson_label(lesson)}"
    lines = []
    if new:
        lines.append(f"Marked absent on {where}: {_names(new)}")
    if already:
        lines.append(f"Already marked absent on {where}: {_names(already)}")
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
        lines.append(f"Removed marks on {day}: {', '.join(parts)}")
    if untouched:
        what = "no marks" if lesson is None else f"no mark for {lesson_label(lesson)}"
        lines.append(f"Nothing to remove on {day} ({what}): {_names(untouched)}")
    return lines


def absences(title: str, marks: Sequence[Mark], order: Sequence[str]) -> list[str]:
    """One student's absences: a total with per-lesson counts, then one line per day."""
    if not marks:
        return [f"{title}: none."]
    lines = [f"{title}: {len(marks)} ({_counts(marks, order)})"]
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
        return [f"No absences {span}."]
    per_student: dict[int, list[Mark]] = defaultdict(list)
    for m in marks:
        per_student[m.user_id].append(m)
    rows = sorted(
        per_student.items(),
        key=lambda item: (-len(item[1]), names[item[0]].casefold(), item[0]),
    )
    students = "student" if len(rows) == 1 else "students"
    lines = [f"Absences {span}: {len(marks)} in total, {len(rows)} {students}"]
    for uid, ms in rows:
        lines.append(f"{names[uid]}: {len(ms)} ({_counts(ms, order)})")
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
