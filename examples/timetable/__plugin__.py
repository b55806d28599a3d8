"""Timetable: every weekday morning, today's lessons go to every member.

Settings (``bot.toml``)::

    [plugins.settings.timetable]
    mon = ["math 09:00", "physics 10:45"]
    tue = ["history 09:00"]

The schedule itself is code (``on_schedule`` below): when it changes, hot
reload applies it without a restart.
"""

from botrt import PluginPlanner
from botrt.adapter import ScheduleEvent, TextEvent
from botrt.handle import on_command, on_schedule
from botrt.plugin import Members, Messenger, PluginSettings

TIMETABLE = PluginPlanner(version="1.0.0")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def lessons_for(settings: PluginSettings, weekday: int) -> list[str]:
    """The lessons configured for a weekday (0 = Monday)."""
    value = settings.get(DAYS[weekday], [])
    return [str(v) for v in value] if isinstance(value, list) else []


def render(lessons: list[str]) -> str:
    """The message for a day's lessons."""
    if not lessons:
        return "No lessons today."
    return "Today's lessons:\n" + "\n".join(f"- {lesson}" for lesson in lessons)


@TIMETABLE.use
@on_schedule(at="07:30", days="mon-sat")
async def morning(
    event: ScheduleEvent, settings: PluginSettings, members: Members, messenger: Messenger
) -> None:
    """Send today's lessons to every member of the bot's community."""
    lessons = lessons_for(settings, event.scheduled_for.weekday())
    if not lessons:
        return
    recipients = [m.user_id for m in await members.all(event.bot)]
    key = f"timetable-{event.scheduled_for.date().isoformat()}"
    await messenger.send_many(event.bot, recipients, render(lessons), key=key)


@TIMETABLE.use
@on_command("today", description="today's lessons")
async def today(event: TextEvent, settings: PluginSettings) -> None:
    """Reply with today's lessons."""
    import datetime

    await event.reply(render(lessons_for(settings, datetime.date.today().weekday())))
