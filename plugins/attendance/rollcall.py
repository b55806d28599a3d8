"""``rollcall``: the head taps who is absent on a keyboard of the roster; "Done" records it.

The dialogue is an in-memory `ask` loop, not a durable `Conversation`: the
taps so far live in the handler, and only "Done" writes, every mark in one
transaction. A roll call takes a minute, so a restart mid-way ends it with
nothing recorded (the head is told to start again) rather than resuming a
half-finished list someone may have already redone by hand. A timeout, a
cancel word or the "Cancel" button end it the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from __plugin__ import ATTENDANCE

from botrt.adapter import Keyboard, TextEvent
from botrt.handle import (
    CommandArgs,
    ConversationCancelled,
    ConversationEnded,
    ConversationTimeout,
    ask,
    on_command,
)
from botrt.i18n import N_
from botrt.plugin import Members, PluginSettings
from botrt.storage import PluginStorage

from . import render
from .parse import ArgumentError, parse_mark_args
from .roster import Student
from .settings import LessonError, SettingsError, read_settings
from .store import WHOLE_DAY, Marks

_ = ATTENDANCE.gettext
ngettext = ATTENDANCE.ngettext
USAGE = N_("rollcall [--lesson NAME] [--date YYYY-MM-DD]")
ROWS_OF_NAMES = 8
"""Rows of names on one page: VK's standard keyboard has 10 rows, two are for the buttons below."""
NAMES_PER_ROW = 2
"""Two names a row: VK shrinks labels to fit a row, and names must stay readable on a phone."""
PAGE_SIZE = ROWS_OF_NAMES * NAMES_PER_ROW
ABSENT_MARK = "❌ "
LABEL_LIMIT = 40
"""VK's longest button label (`Keyboard.button` refuses a longer one)."""
_KEY = "rollcall"


@dataclass(slots=True)
class RollCall:
    """One roll call in progress: the roster, who is marked absent so far, the page shown."""

    roster: Sequence[Student]
    absent: set[int]
    page: int = 0

    @property
    def pages(self) -> int:
        """How many pages the roster takes (at least one)."""
        return max(1, -(-len(self.roster) // PAGE_SIZE))

    def keyboard(self) -> Keyboard:
        """This page's names (the absent ones marked), paging buttons, "Done" and "Cancel"."""
        kb = Keyboard()
        start = self.page * PAGE_SIZE
        for i, student in enumerate(self.roster[start : start + PAGE_SIZE]):
            if i and i % NAMES_PER_ROW == 0:
                kb.row()
            gone = student.user_id in self.absent
            kb.button(
                label(student, gone),
                {_KEY: "toggle", "id": student.user_id},
                color="negative" if gone else None,
            )
        if self.pages > 1:
            kb.row()
            if self.page > 0:
                kb.button(_("◀ Back"), {_KEY: "page", "page": self.page - 1})
            if self.page < self.pages - 1:
                kb.button(_("Next ▶"), {_KEY: "page", "page": self.page + 1})
        kb.row().button(_("Done"), {_KEY: "done"}, color="positive")
        kb.button(_("Cancel"), {_KEY: "cancel"})
        return kb

    def action(self, answer: TextEvent, kb: Keyboard) -> dict[str, Any] | None:
        """What the answer asks for: a pressed button's payload, or that of a typed label.

        Typing a label counts as pressing it (the console has no buttons to press).
        """
        payload = answer.payload
        if isinstance(payload, dict) and _KEY in payload:
            return payload
        button = kb.find(answer.text.strip())
        if button is not None and isinstance(button.payload, dict):
            return button.payload
        return None

    def apply(self, action: dict[str, Any]) -> None:
        """Toggle a student, or turn the page."""
        kind = action.get(_KEY)
        if kind == "toggle":
            uid = action.get("id")
            if any(s.user_id == uid for s in self.roster) and isinstance(uid, int):
                self.absent ^= {uid}
        elif kind == "page":
            page = action.get("page")
            if isinstance(page, int) and 0 <= page < self.pages:
                self.page = page

    def status(self) -> str:
        """Who is marked absent so far, and where to tap."""
        names = [s.label for s in self.roster if s.user_id in self.absent]
        if not names:
            text = _("Nobody is marked absent. Tap who is absent, then Done.")
        else:
            text = ngettext(
                "{n} absent: {names}. Tap more, or Done.",
                "{n} absent: {names}. Tap more, or Done.",
                len(names),
            ).format(n=len(names), names=", ".join(names))
        if self.pages > 1:
            text += " " + _("(page {page} of {pages})").format(page=self.page + 1, pages=self.pages)
        return text


def label(student: Student, absent: bool) -> str:
    """A student's button: the name, cut to VK's label limit, marked when absent."""
    prefix = ABSENT_MARK if absent else ""
    room = LABEL_LIMIT - len(prefix)
    name = student.name if len(student.name) <= room else student.name[: room - 1] + "…"
    return prefix + name


@ATTENDANCE.use
@on_command(
    "rollcall",
    description=N_("take the roll: tap who is absent on a keyboard"),
    usage=USAGE,
    privileged=True,
)
async def rollcall(
    event: TextEvent,
    args: CommandArgs,
    raw: PluginSettings,
    members: Members,
    ps: PluginStorage,
) -> None:
    """Show the roster as buttons, collect the absent, record them all at once on "Done"."""
    try:
        settings = read_settings(raw)
        parsed = parse_mark_args(str(args))
        lesson = settings.lesson(parsed.lesson) if parsed.lesson is not None else WHOLE_DAY
    except SettingsError as exc:
        await event.reply(_("The attendance settings are invalid: {error}").format(error=exc))
        return
    except (LessonError, ArgumentError) as exc:
        await event.reply(_("{error}\nUsage: {usage}").format(error=exc, usage=_(USAGE)))
        return
    if parsed.students:
        await event.reply(
            _("The roll call takes no students: it shows them all.\nUsage: {usage}").format(
                usage=_(USAGE)
            )
        )
        return
    roster = [Student(m.user_id, m.name) for m in await members.all(event.bot)]
    if not roster:
        await event.reply(_("No members are stored for this bot yet: there is nobody to call."))
        return
    day = parsed.day if parsed.day is not None else date.today()
    call = RollCall(roster, set())
    where = f"{day}, {render.lesson_label(lesson)}"
    prompt = ngettext(
        "Roll call on {where}: {n} student. Tap who is absent, then Done.",
        "Roll call on {where}: {n} students. Tap who is absent, then Done.",
        len(roster),
    ).format(where=where, n=len(roster))
    latest = event
    try:
        while True:
            kb = call.keyboard()
            latest = await ask(prompt, keyboard=kb)
            action = call.action(latest, kb)
            if action is None:
                prompt = _("Tap a name on the keyboard, then Done.")
                continue
            if action.get(_KEY) == "done":
                break
            if action.get(_KEY) == "cancel":
                await latest.reply(
                    _("Roll call cancelled: nothing was recorded."), keyboard=Keyboard()
                )
                return
            call.apply(action)
            prompt = call.status()
    except ConversationEnded as exc:
        await (exc.event or latest).reply(_ended(exc), keyboard=Keyboard())
        return
    absent = [s for s in roster if s.user_id in call.absent]
    new = await Marks(ps).add(event.bot, [s.user_id for s in absent], day, lesson, event.user_id)
    messages = render.pack(summary(where, roster, absent, new, day, lesson))
    for message in messages[:-1]:
        await latest.reply(message)
    await latest.reply(messages[-1], keyboard=Keyboard())  # the empty keyboard hides the names


def summary(
    where: str,
    roster: Sequence[Student],
    absent: Sequence[Student],
    new: set[int],
    day: date,
    lesson: str,
) -> list[str]:
    """The answer to "Done", as lines: how many were absent of how many, what was recorded."""
    if not absent:
        return [_("Roll call on {where}: everybody is present.").format(where=where)]
    head = ngettext(
        "Roll call on {where}: {n} of {total} absent.",
        "Roll call on {where}: {n} of {total} absent.",
        len(absent),
    ).format(where=where, n=len(absent), total=len(roster))
    fresh = [s for s in absent if s.user_id in new]
    already = [s for s in absent if s.user_id not in new]
    return [head, *render.marked(day, lesson, fresh, already)]


def _ended(exc: ConversationEnded) -> str:
    if isinstance(exc, ConversationTimeout):
        return _("Roll call ended: no answer came in time. Nothing was recorded.")
    if isinstance(exc, ConversationCancelled):
        return _("Roll call cancelled: nothing was recorded.")
    return _("Roll call interrupted: the bot is restarting. Nothing was recorded; start it again.")
