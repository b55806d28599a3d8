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
from botrt.plugin import Members, PluginSettings, Roles
from botrt.protocols.vk import MessageNew, VkApi, VkError, upload_document
from botrt.storage import PluginStorage

from . import export, render
from .parse import ArgumentError, month_of, parse_view_args
from .roster import StudentError, names_of, resolve_students
from .settings import Settings, SettingsError, read_settings
from .store import Marks

log = logging.getLogger("botrt.plugins.attendance")

USAGE = "[export] [STUDENT] [START..END | YYYY-MM-DD | YYYY-MM]"
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
        await event.reply(f"The attendance settings are invalid: {exc}")
        return False
    if not await roles.is_admin(event):
        await _own(event, args, settings, ps)
        return False
    try:
        view = parse_view_args(args)
    except ArgumentError as exc:
        await event.reply(f"{exc}\nUsage: {args.command} {USAGE}")
        return False
    marks = Marks(ps)
    if view.export:
        start, end = (view.span.start, view.span.end) if view.span else (None, None)
        found = await marks.between(event.bot, start, end)
        shown = "all marks" if view.span is None else str(view.span)
        if not found:
            await event.reply(f"No marks to export ({shown}).")
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
        title = f"Absences of {student.label}" + (f", {view.span}" if view.span else "")
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
        description="your absences; for admins, tables and CSV export",
        usage=f"attendance {USAGE}",
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
        await event.reply(f"The export could not be uploaded to VK: {exc}")
        return
    await event.reply(
        f"Attendance export, {made.span}: {_marks(made.count)}.", attachment=attachment
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
        await event.reply(f"The export could not be written to {folder}: {exc.strerror or exc}")
        return
    await event.reply(f"Attendance export, {made.span}: {_marks(made.count)}, written to {path}")


async def _own(event: TextEvent, args: CommandArgs, settings: Settings, ps: PluginStorage) -> None:
    if args.strip():
        if args.argv[0].lower() == "export":
            await event.reply("Only admins can export attendance.")
        else:
            await event.reply(
                "Only admins can see other students' absences or choose dates. "
                f"Send {args.command} alone to see your own absences."
            )
        return
    found = await Marks(ps).of_user(event.bot, event.user_id, None, None)
    if not found:
        await event.reply("You have no recorded absences.")
        return
    await _send(event, render.absences("Your absences", found, settings.lessons))


async def _send(event: TextEvent, lines: list[str]) -> None:
    for message in render.pack(lines):
        await event.reply(message)


def _marks(count: int) -> str:
    return "1 mark" if count == 1 else f"{count} marks"
