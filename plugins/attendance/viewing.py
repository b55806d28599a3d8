"""``attendance``: a member's own absences, tables for admins, and CSV exports.

The command is a small flow: `show_attendance` answers everything but an
export, which it leaves in the flow store for the delivery node that fits the
platform: `upload_to_vk` (it needs a VK event and that bot's API, so it is
skipped elsewhere), else `write_to_file`.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import anyio
from __plugin__ import ATTENDANCE

from botrt.adapter import TextEvent
from botrt.handle import CommandArgs, FlowStore, on_command
from botrt.i18n import N_
from botrt.plugin import Members, PluginSettings, Roles
from botrt.protocols.vk import MessageNew, VkApi, VkError, upload_document
from botrt.storage import PluginStorage

from . import export, render
from .parse import EXPORT_WORDS, ArgumentError, month_of, parse_view_args
from .roster import StudentError, names_of, resolve_students
from .settings import Settings, SettingsError, read_settings
from .store import Marks

log = logging.getLogger("botrt.plugins.attendance")

_ = ATTENDANCE.gettext
USAGE = N_("[export] [STUDENT] [START..END | YYYY-MM-DD | YYYY-MM]")
EXPORT = "attendance.export"
"""The flow-store key under which `show_attendance` hands an export to delivery."""


async def show_attendance(
    event: TextEvent,
    args: CommandArgs,
    roles: Roles,
    raw: PluginSettings,
    members: Members,
    ps: PluginStorage,
    store: FlowStore,
) -> bool:
    """Reply with absences; for an export, put it in the store and let delivery continue."""
    try:
        settings = read_settings(raw)
    except SettingsError as exc:
        await event.reply(_("The attendance settings are invalid: {error}").format(error=exc))
        return False
    if not await roles.is_admin(event):
        await _own(event, args, settings, ps)
        return False
    try:
        view = parse_view_args(args)
    except ArgumentError as exc:
        await event.reply(
            _("{error}\nUsage: {usage}").format(error=exc, usage=f"{args.command} {_(USAGE)}")
        )
        return False
    marks = Marks(ps)
    if view.export:
        start, end = (view.span.start, view.span.end) if view.span else (None, None)
        found = await marks.between(event.bot, start, end)
        shown = _("all marks") if view.span is None else str(view.span)
        if not found:
            await event.reply(_("No marks to export ({span}).").format(span=shown))
            return False
        names = await names_of(members, event.bot, {m.user_id for m in found})
        store[EXPORT] = export.build(event.bot, found, names, view.span, datetime.now(UTC))
        return True
    if view.student is not None:
        try:
            (student,) = await resolve_students([view.student], members, event.bot)
        except StudentError as exc:
            await event.reply("\n".join(exc.problems))
            return False
        start, end = (view.span.start, view.span.end) if view.span else (None, None)
        found = await marks.of_user(event.bot, student.user_id, start, end)
        title = _("Absences of {student}").format(student=student.label)
        if view.span:
            title += f", {view.span}"
        await _send(event, render.absences(title, found, settings.lessons))
        return False
    span = view.span or month_of(date.today())
    found = await marks.between(event.bot, span.start, span.end)
    names = await names_of(members, event.bot, {m.user_id for m in found})
    await _send(event, render.table(str(span), found, names, settings.lessons))
    return False


ATTENDANCE_FLOW = ATTENDANCE.use(
    on_command(
        "attendance",
        description=N_("your absences; for admins, tables and CSV export"),
        usage=N_("attendance [export] [STUDENT] [START..END | YYYY-MM-DD | YYYY-MM]"),
    )(show_attendance)
)
(MAIN,) = ATTENDANCE_FLOW.nodes


@ATTENDANCE_FLOW.after(MAIN)
async def upload_to_vk(event: MessageNew, api: VkApi, store: FlowStore) -> None:
    """Send the export as a VK document attached to the reply."""
    made: export.Export | None = store.pop(EXPORT, None)
    if made is None:
        return
    try:
        attachment = await upload_document(
            api, event.peer_id, made.filename, made.data, title=made.title
        )
    except VkError as exc:
        log.warning("attendance export of %s not uploaded: %s", event.bot, exc)
        await event.reply(_("The export could not be uploaded to VK: {error}").format(error=exc))
        return
    await event.reply(
        _("Attendance export, {span}: {marks}.").format(span=made.span, marks=_marks(made.count)),
        attachment=attachment,
    )


@ATTENDANCE_FLOW.after(MAIN)
async def write_to_file(
    event: TextEvent, store: FlowStore, raw: PluginSettings, ps: PluginStorage
) -> None:
    """Write the export to a file (platforms that cannot send one) and reply with its path."""
    made: export.Export | None = store.pop(EXPORT, None)
    if made is None:
        return  # uploaded to VK already
    folder = await export.exports_folder(read_settings(raw), ps)
    try:
        path = await anyio.to_thread.run_sync(export.write, folder, made)
    except OSError as exc:
        log.warning("attendance export not written to %s: %s", folder, exc)
        await event.reply(
            _("The export could not be written to {folder}: {error}").format(
                folder=folder, error=exc.strerror or exc
            )
        )
        return
    await event.reply(
        _("Attendance export, {span}: {marks}, written to {path}").format(
            span=made.span, marks=_marks(made.count), path=path
        )
    )


async def _own(event: TextEvent, args: CommandArgs, settings: Settings, ps: PluginStorage) -> None:
    if args.strip():
        if args.argv[0].lower() in EXPORT_WORDS:
            await event.reply(_("Only admins can export attendance."))
        else:
            await event.reply(
                _(
                    "Only admins can see other students' absences or choose dates. "
                    "Send {command} alone to see your own absences."
                ).format(command=args.command)
            )
        return
    found = await Marks(ps).of_user(event.bot, event.user_id, None, None)
    if not found:
        await event.reply(_("You have no recorded absences."))
        return
    await _send(event, render.absences(_("Your absences"), found, settings.lessons))


async def _send(event: TextEvent, lines: list[str]) -> None:
    for message in render.pack(lines):
        await event.reply(message)


def _marks(count: int) -> str:
    return ATTENDANCE.ngettext("{n} mark", "{n} marks", count).format(n=count)
