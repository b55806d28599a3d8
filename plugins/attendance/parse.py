"""Reading command arguments: students, ``--lesson``/``--date`` options, dates and ranges.

Pure functions of the text; nothing here looks at the roster or the database.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from botrt.i18n import N_, plugin_translator

T = plugin_translator()
_ = T.gettext

# Numbers are read in the digits 0-9 only (re.ASCII): without it \d also takes
# "١" or "１", which int() then reads as 1.
MENTION = re.compile(r"\[id(\d+)\|[^\]]*\]", re.ASCII)
"""A VK mention of a user, ``[id123|Anna]``."""
USER_ID = re.compile(r"(?:id)?(\d+)", re.ASCII)
"""A user id, ``123`` or ``id123``."""

# A mention may hold spaces (``[id1|Anna Petrova]``), so it is one token; commas
# are tokens of their own, since they separate students.
_TOKEN = re.compile(r"\[[^\]]*\]|,|[^\s,]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_MONTH = re.compile(r"(\d{4})-(\d{2})", re.ASCII)
# Any script's digits: "2026-0١" is meant as a month, and refused as one.
_RANGE_LIKE = re.compile(r"[\d.\-]+")
# Phones turn "--" into a dash as it is typed; "—lesson" means "--lesson".
_DASHES = ("\u2014", "\u2013")

OPTIONS = {"lesson": N_("--lesson NAME"), "date": N_("--date YYYY-MM-DD")}
DATE_HINT = N_("YYYY-MM-DD")
RANGE_HINT = N_("START..END, e.g. 2026-09-01..2026-12-31")


EXPORT_WORDS = ("export", "экспорт")
"""``attendance export``'s subcommand, in every language botrt speaks."""


class ArgumentError(ValueError):
    """The arguments of a command cannot be read; the message tells the user why."""


@dataclass(frozen=True, slots=True)
class Span:
    """An inclusive range of days."""

    start: date
    end: date

    def __str__(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start}..{self.end}"


@dataclass(frozen=True, slots=True)
class MarkArgs:
    """What ``absent``/``present`` were given.

    Attributes:
        students: the student references, as typed (a mention, an id or a name).
        lesson: the ``--lesson`` value as typed, or None.
        day: the ``--date`` value, or None.
    """

    students: tuple[str, ...]
    lesson: str | None
    day: date | None


@dataclass(frozen=True, slots=True)
class ViewArgs:
    """What ``attendance`` was given.

    Attributes:
        export: ``attendance export [RANGE]``.
        student: whose absences to show (as typed), or None.
        span: the range of days asked for, or None.
    """

    export: bool
    student: str | None
    span: Span | None


def is_user_ref(token: str) -> bool:
    """Whether `token` is a mention or an id (each always names one student)."""
    return bool(MENTION.fullmatch(token) or USER_ID.fullmatch(token))


def parse_mark_args(text: str) -> MarkArgs:
    """Read ``STUDENT... [--lesson NAME] [--date YYYY-MM-DD]`` (options anywhere).

    Students are separated by commas; mentions and ids also stand alone when
    separated by spaces, while consecutive plain words form one name
    (``Ivanov, Anna Petrova [id5|Oleg] 7`` is four students).

    :raises ArgumentError: for an unknown or repeated option, an option
        without its value, or a date that is not a real ``YYYY-MM-DD`` day.
    """
    tokens = _TOKEN.findall(text)
    options: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        option = _option(token)
        if option is None:
            rest.append(token)
            continue
        name, _sep, value = option.partition("=")
        name = name.lower()
        if name not in OPTIONS:
            known = _(" and ").join(_(v) for v in OPTIONS.values())
            raise ArgumentError(
                _("unknown option --{name}; use {known}").format(name=name, known=known)
            )
        if name in options:
            raise ArgumentError(_("--{name} is given twice").format(name=name))
        if not value and i < len(tokens) and tokens[i] != "," and _option(tokens[i]) is None:
            value = tokens[i]
            i += 1
        if not value:
            raise ArgumentError(
                _("--{name} needs a value: {form}").format(name=name, form=_(OPTIONS[name]))
            )
        options[name] = value
    day = parse_day(options["date"], "--date") if "date" in options else None
    return MarkArgs(tuple(_students(rest)), options.get("lesson"), day)


def parse_view_args(text: str) -> ViewArgs:
    """Read ``[export] [STUDENT] [RANGE]`` for ``attendance``.

    A RANGE is ``START..END``, one day ``YYYY-MM-DD`` or a month ``YYYY-MM``.

    :raises ArgumentError: for a bad range, or more than one student.
    """
    words = text.split()
    if not words:
        return ViewArgs(export=False, student=None, span=None)
    if words[0].lower() in EXPORT_WORDS:
        if len(words) > 2 or (len(words) == 2 and not looks_like_range(words[1])):
            raise ArgumentError(
                _("export takes at most a range of days: {hint}").format(hint=_(RANGE_HINT))
            )
        return ViewArgs(export=True, student=None, span=_span(words[1:]))
    span = None
    if looks_like_range(words[-1]):
        span = parse_range(words.pop())
    student = " ".join(words) or None
    if student is not None and len(_students(_TOKEN.findall(student))) > 1:
        raise ArgumentError(_("one student at a time"))
    return ViewArgs(export=False, student=student, span=span)


def parse_day(value: str, label: str) -> date:
    """The day `value` (``YYYY-MM-DD``) names.

    :raises ArgumentError: ``{label} {value}: not a date (YYYY-MM-DD)``.
    """
    if _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ArgumentError(
        _("{label} {value}: not a date ({hint})").format(
            label=label, value=value, hint=_(DATE_HINT)
        )
    )


def looks_like_range(token: str) -> bool:
    """Whether `token` is meant as a day, month or range (a bare number is a user id)."""
    return bool(_RANGE_LIKE.fullmatch(token)) and ("-" in token or ".." in token)


def parse_range(token: str) -> Span:
    """The days ``START..END``, ``YYYY-MM-DD`` or ``YYYY-MM`` cover, ends included.

    :raises ArgumentError: if a part is not a real day, or the start is after the end.
    """
    if ".." in token:
        first, _sep, last = token.partition("..")
        start, end = _range_day(first, token), _range_day(last, token)
        if start > end:
            raise ArgumentError(_("{range}: the start is after the end").format(range=token))
        return Span(start, end)
    month = _MONTH.fullmatch(token)
    if month and 1 <= int(month.group(2)) <= 12:
        return month_of(date(int(month.group(1)), int(month.group(2)), 1))
    day = _range_day(token, token)
    return Span(day, day)


def month_of(day: date) -> Span:
    """The calendar month `day` falls in."""
    last = calendar.monthrange(day.year, day.month)[1]
    return Span(day.replace(day=1), day.replace(day=last))


def _span(words: list[str]) -> Span | None:
    return parse_range(words[0]) if words else None


def _range_day(value: str, token: str) -> date:
    if _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ArgumentError(
        _("{range}: {value} is not a date ({hint})").format(
            range=token, value=value or _("nothing"), hint=_(DATE_HINT)
        )
    )


def _option(token: str) -> str | None:
    if token.startswith("--"):
        return token[2:]
    if token.startswith(_DASHES):
        return token[1:]
    return None


def _students(tokens: list[str]) -> list[str]:
    students: list[str] = []
    words: list[str] = []

    def end_name() -> None:
        if words:
            students.append(" ".join(words))
            words.clear()

    for token in tokens:
        if token == ",":
            end_name()
        elif is_user_ref(token):
            end_name()
            students.append(token)
        else:
            words.append(token)
    end_name()
    return students
