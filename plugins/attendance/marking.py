"""``absent`` and ``present``: admins mark students absent, and take marks back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from __plugin__ import ATTENDANCE

from botrt.adapter import TextEvent
from botrt.handle import CommandArgs, on_command
from botrt.i18n import N_
from botrt.plugin import Members, PluginSettings
from botrt.storage import PluginStorage

from . import render
from .parse import ArgumentError, parse_mark_args
from .roster import Student, StudentError, resolve_students
from .settings import LessonError, SettingsError, read_settings
from .store import WHOLE_DAY, Marks

_ = ATTENDANCE.gettext
OPTIONS_USAGE = N_("STUDENT... [--lesson NAME] [--date YYYY-MM-DD]")


@dataclass(frozen=True, slots=True)
class _Request:
    students: list[Student]
    day: date
    lesson: str | None  # None: no --lesson given
    order: tuple[str, ...]


@ATTENDANCE.use
@on_command(
    "absent",
    description=N_("mark students absent"),
    usage=N_("absent STUDENT... [--lesson NAME] [--date YYYY-MM-DD]"),
    privileged=True,
)
async def absent(
    event: TextEvent,
    args: CommandArgs,
    raw: PluginSettings,
    members: Members,
    ps: PluginStorage,
) -> None:
    """Mark students absent for a day and lesson; nothing is written unless all are found."""
    request = await _read(event, args, raw, members, failed=_("Nothing was recorded"))
    if request is None:
        return
    lesson = request.lesson if request.lesson is not None else WHOLE_DAY
    ids = [s.user_id for s in request.students]
    new = await Marks(ps).add(event.bot, ids, request.day, lesson, event.user_id)
    fresh = [s for s in request.students if s.user_id in new]
    already = [s for s in request.students if s.user_id not in new]
    for message in render.pack(render.marked(request.day, lesson, fresh, already)):
        await event.reply(message)


@ATTENDANCE.use
@on_command(
    "present",
    description=N_("take absence marks back"),
    usage=N_("present STUDENT... [--lesson NAME] [--date YYYY-MM-DD]"),
    privileged=True,
)
async def present(
    event: TextEvent,
    args: CommandArgs,
    raw: PluginSettings,
    members: Members,
    ps: PluginStorage,
) -> None:
    """Remove the marks of students for a day: of one lesson, or all of that day."""
    request = await _read(event, args, raw, members, failed=_("Nothing was removed"))
    if request is None:
        return
    ids = [s.user_id for s in request.students]
    gone = await Marks(ps).remove(event.bot, ids, request.day, request.lesson)
    removed = [(s, gone[s.user_id]) for s in request.students if s.user_id in gone]
    untouched = [s for s in request.students if s.user_id not in gone]
    lines = render.removed(request.day, request.lesson, removed, untouched, request.order)
    for message in render.pack(lines):
        await event.reply(message)


async def _read(
    event: TextEvent, args: CommandArgs, raw: PluginSettings, members: Members, *, failed: str
) -> _Request | None:
    # Everything is checked before anything is written, so a command either
    # applies to every student it names or to none; problems are replied here.
    usage = f"{args.command} {_(OPTIONS_USAGE)}"
    try:
        settings = read_settings(raw)
        parsed = parse_mark_args(args)
        lesson = settings.lesson(parsed.lesson) if parsed.lesson is not None else None
    except SettingsError as exc:
        await event.reply(
            _("{failed}: the attendance settings are invalid: {error}").format(
                failed=failed, error=exc
            )
        )
        return None
    except LessonError as exc:
        await event.reply(f"{exc}\n{failed}.")
        return None
    except ArgumentError as exc:
        await event.reply(_("{error}\nUsage: {usage}").format(error=exc, usage=usage))
        return None
    if not parsed.students:
        await event.reply(_("Name at least one student.\nUsage: {usage}").format(usage=usage))
        return None
    try:
        students = await resolve_students(parsed.students, members, event.bot)
    except StudentError as exc:
        for message in render.pack([f"{failed}:", *(f"- {p}" for p in exc.problems)]):
            await event.reply(message)
        return None
    day = parsed.day if parsed.day is not None else date.today()
    return _Request(students, day, lesson, settings.lessons)
