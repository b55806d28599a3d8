"""The ``broadcast`` and ``broadcast-admins`` commands: parse, store the job, answer."""

from __future__ import annotations

import datetime as dt
import json
import re

from __plugin__ import BROADCAST, live

from botrt.adapter import TextEvent
from botrt.handle import on_command
from botrt.i18n import N_
from botrt.plugin import CommandCatalog, Members, Messenger, PluginSettings
from botrt.protocols.vk import MessageNew

from .confirm import confirmed
from .model import ADMINS, MEMBERS, SCHEDULED
from .report import audience_label, local_time, render_report, render_status, state_label
from .sender import recipients
from .settings import Options

_ = BROADCAST.gettext
RECENT = 5
MAX_JOB_ID = 2**31 - 1
"""The largest id the jobs table's INTEGER key holds (PostgreSQL refuses a larger one)."""
"""How many ended jobs ``status`` lists besides the running and scheduled ones."""
SUBCOMMANDS = ("status", "cancel")
# The subcommands' words in the other languages botrt speaks: any of them works in any bot.
SUBCOMMAND_WORDS = {"статус": "status", "отмена": "cancel"}
AT_FORMAT = N_('--at "YYYY-MM-DD HH:MM"')
"""How a start time is written, in the bot's time zone; error replies quote it."""
_AT_PARSE = "%Y-%m-%d %H:%M"
# Phones turn typed quotes into typographic ones: accept those as well.
_QUOTES = {'"': '"', "'": "'", "“": "”", "”": "”", "«": "»", "„": "“"}
_AT_OPTION = re.compile(r"--at(?=[\s=]|$)=?\s*")


@BROADCAST.use
@on_command(
    "broadcast",
    aliases=["mb"],
    description=N_("send a message to every member of the community"),
    usage=N_('broadcast [--at "YYYY-MM-DD HH:MM"] TEXT | status [N] | cancel N'),
    privileged=True,
)
async def broadcast(
    event: TextEvent,
    members: Members,
    messenger: Messenger,
    settings: PluginSettings,
    catalog: CommandCatalog,
) -> None:
    """Start (or schedule) a broadcast to every stored member, or run a subcommand."""
    await handle(event, MEMBERS, members, messenger, settings, catalog)


@BROADCAST.use
@on_command(
    "broadcast-admins",
    aliases=["ma"],
    description=N_("send a message to the admins of the community"),
    usage=N_('broadcast-admins [--at "YYYY-MM-DD HH:MM"] TEXT | status [N] | cancel N'),
    privileged=True,
)
async def broadcast_admins(
    event: TextEvent,
    members: Members,
    messenger: Messenger,
    settings: PluginSettings,
    catalog: CommandCatalog,
) -> None:
    """Start (or schedule) a broadcast to the admins, or run a subcommand."""
    await handle(event, ADMINS, members, messenger, settings, catalog)


async def handle(
    event: TextEvent,
    audience: str,
    members: Members,
    messenger: Messenger,
    settings: PluginSettings,
    catalog: CommandCatalog,
) -> None:
    """What both commands do; `audience` is ``members`` or ``admins``."""
    prefix = catalog.prefixes[0] if catalog.prefixes else ""
    name = command_name(audience)
    text = message_text(event)
    broadcaster = live()
    info = broadcaster.info
    at: dt.datetime | None = None
    scheduled = split_at(text)
    if scheduled is not None:
        value, text = scheduled
        try:
            at = parse_at(value, info.timezone, info.now())
        except ValueError as exc:
            await event.reply(_("Broadcast not scheduled: {error}").format(error=exc))
            return
    else:
        sub = subcommand(text)
        if sub is not None:
            await run_subcommand(event, sub[0], sub[1], settings, f"{prefix}{name}")
            return
    attachment = ",".join(event.attachment_ids) if isinstance(event, MessageNew) else ""
    # Messages forwarded with the command, or the one it replies to, go along.
    forward_on = event.forward_on() if isinstance(event, MessageNew) else None
    forward, forwarded = (json.dumps(forward_on[0]), forward_on[1]) if forward_on else ("", 0)
    if not text and not attachment and not forward:
        await event.reply(usage(prefix, name, audience))
        return
    try:
        options = Options.from_settings(settings)
    except ValueError as exc:
        await event.reply(_("Broadcast is misconfigured: {error}").format(error=exc))
        return
    if event.bot not in messenger.bots():
        await event.reply(
            _("Bot {bot} cannot send messages on its own here.").format(bot=repr(event.bot))
        )
        return
    job_args = {
        "bot": event.bot,
        "audience": audience,
        "text": text,
        "attachment": attachment,
        "admin": event.user_id,
        "options": options,
        "forward": forward,
        "forwarded": forwarded,
        # Handled again after a crash, the command finds the job it made (issue 16).
        "origin": event.event_id if isinstance(event, MessageNew) else None,
    }
    if at is not None:
        # The recipients are chosen again when it starts: members join and leave meanwhile.
        job = await broadcaster.schedule(at=at, **job_args)
        assert job.scheduled_at is not None
        await event.reply(
            _(
                "Broadcast #{id} scheduled for {at}, to {audience}. {command} {id} cancels it."
            ).format(
                id=job.id,
                at=local_time(job.scheduled_at, info.timezone),
                audience=audience_label(job),
                command=f"{prefix}{name} {cancel_word()}",
            )
        )
        return
    peers = await recipients(members, event.bot, audience, event.user_id)
    if not peers:
        await event.reply(_("No members are stored for this bot yet."))
        return
    if options.confirm and not await confirmed(
        event,
        recipients=len(peers),
        text=text,
        attachments=len(event.attachment_ids) if isinstance(event, MessageNew) else 0,
        forwarded=forwarded,
    ):
        return
    job = await broadcaster.launch(peer_ids=peers, **job_args)
    started = BROADCAST.ngettext(
        "Broadcast #{id} started: {n} recipient.",
        "Broadcast #{id} started: {n} recipients.",
        job.planned,
    )
    await event.reply(started.format(id=job.id, n=job.planned))


def command_name(audience: str) -> str:
    """The command's name in the bot's language (``рассылка-админам`` for Russian admins)."""
    if audience == ADMINS:
        return BROADCAST.pgettext("command", "broadcast-admins")
    return BROADCAST.pgettext("command", "broadcast")


def status_word() -> str:
    """``status`` in the bot's language."""
    return BROADCAST.pgettext("subcommand", "status")


def cancel_word() -> str:
    """``cancel`` in the bot's language."""
    return BROADCAST.pgettext("subcommand", "cancel")


def message_text(event: TextEvent) -> str:
    """The text after the command word, line breaks kept.

    Split on any whitespace as the dispatcher does, so ``/mb`` followed by a
    new line keeps the first line of the message.
    """
    parts = event.text.split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""


def split_at(text: str) -> tuple[str, str] | None:
    """``('2026-11-24 08:00', 'TEXT')`` for a `text` starting with ``--at``; None otherwise.

    The time is quoted (``--at "2026-11-24 08:00" TEXT``) or not (then it
    is the next two words); what follows is the text, line breaks kept. The
    time is returned unchecked (see `parse_at`).
    """
    option = _AT_OPTION.match(text)
    if option is None:
        return None
    rest = text[option.end() :]
    close = _QUOTES.get(rest[:1])
    if close is not None:
        end = rest.find(close, 1)
        if end < 0:
            return rest[1:].strip(), ""  # unclosed: refused by parse_at as it stands
        return rest[1:end].strip(), rest[end + 1 :].strip()
    words = re.match(r"(\S+)(?:[ \t]+(\S+))?", rest)
    if words is None:
        return "", ""
    return " ".join(w for w in words.groups() if w), rest[words.end() :].strip()


def parse_at(value: str, tz: dt.tzinfo, now: dt.datetime) -> dt.datetime:
    """`value` (``YYYY-MM-DD HH:MM``) as an aware time in `tz`, checked to be after `now`.

    :raises ValueError: with the reply to send, naming the expected format,
        if `value` is missing or malformed, does not exist in `tz` (a clock
        change skips it) or is not in the future.
    """
    tomorrow = (now.astimezone(tz) + dt.timedelta(days=1)).strftime("%Y-%m-%d 08:00")
    hint = _('use {format} in the bot\'s time zone ({tz}), e.g. --at "{example}".').format(
        format=_(AT_FORMAT), tz=tz, example=tomorrow
    )
    if not value.strip():
        raise ValueError(_("no time after --at; {hint}").format(hint=hint))
    try:
        if not value.isascii():
            # strptime reads other scripts' digits too: "0١:00" would be 01:00.
            raise ValueError(value)
        naive = dt.datetime.strptime(" ".join(value.split()), _AT_PARSE)
    except ValueError:
        raise ValueError(
            _("{value} is not a date and time; {hint}").format(value=repr(value), hint=hint)
        ) from None
    moment = naive.replace(tzinfo=tz)
    if moment.astimezone(dt.UTC).astimezone(tz).replace(tzinfo=None) != naive:
        raise ValueError(
            _("{value} does not exist in {tz} (the clocks change then); {hint}").format(
                value=value, tz=tz, hint=hint
            )
        )
    if moment <= now:
        current = now.astimezone(tz).strftime(_AT_PARSE)
        raise ValueError(
            _("{value} has passed (it is {now} in {tz} now); {hint}").format(
                value=value, now=current, tz=tz, hint=hint
            )
        )
    return moment


def subcommand(text: str) -> tuple[str, str | None] | None:
    """``("status", None)``, ``("cancel", "3")``...: the subcommand `text` is, or None for text.

    A subcommand is one or two words, the first ``status`` or ``cancel``
    (or ``статус``, ``отмена``).
    """
    words = text.split()
    if not 1 <= len(words) <= 2:
        return None
    word = words[0].lower()
    word = SUBCOMMAND_WORDS.get(word, word)
    if word in SUBCOMMANDS:
        return word, words[1] if len(words) == 2 else None
    return None


def usage(prefix: str, name: str, audience: str) -> str:
    """The answer to a command with nothing to send."""
    command = f"{prefix}{name}"
    if audience == ADMINS:
        send = _(
            "{command} TEXT - send TEXT, with this message's attachments and forwards, "
            "to the admins"
        )
    else:
        send = _(
            "{command} TEXT - send TEXT, with this message's attachments and forwards, "
            "to every member"
        )
    return "\n".join(
        [
            _("Nothing to send. Usage:"),
            send.format(command=command),
            _("{command} {format} TEXT - the same, starting then (bot's time zone)").format(
                command=command, format=_(AT_FORMAT)
            ),
            _(
                "{command} {status} [N] - running, scheduled and recent broadcasts, or broadcast N"
            ).format(command=command, status=status_word()),
            _("{command} {cancel} N - stop broadcast N, or cancel it before it starts").format(
                command=command, cancel=cancel_word()
            ),
        ]
    )


async def run_subcommand(
    event: TextEvent, word: str, arg: str | None, settings: PluginSettings, command: str
) -> None:
    """``status``, ``status N`` or ``cancel N`` for the bot that received `event`."""
    broadcaster = live()
    store = broadcaster.store
    tz = broadcaster.info.timezone
    if word == "status" and arg is None:
        jobs = await store.recent(event.bot, RECENT)
        await event.reply(render_status(jobs, broadcaster.now(), tz=tz))
        return
    if arg is None:
        await event.reply(
            _("Which broadcast? Usage: {cancel} N ({status} lists them).").format(
                cancel=f"{command} {cancel_word()}", status=f"{command} {status_word()}"
            )
        )
        return
    job_id = parse_job_id(arg)
    if job_id is None:
        await event.reply(
            _(
                "{arg} is not a broadcast number: write it in digits 0-9, e.g. 3 or #3. "
                "Send {status} for the list."
            ).format(arg=repr(arg), status=f"{command} {status_word()}")
        )
        return
    job = await store.get(job_id) if job_id <= MAX_JOB_ID else None
    if job is None or job.bot != event.bot:
        await event.reply(
            _("No broadcast {arg} here. Send {status} for the list.").format(
                arg=repr(arg), status=f"{command} {status_word()}"
            )
        )
        return
    if word == "status":
        groups = await store.failure_groups(job.id)
        await event.reply(render_report(job, groups, tz=tz))
        return
    try:
        options = Options.from_settings(settings)
    except ValueError as exc:
        await event.reply(_("Broadcast is misconfigured: {error}").format(error=exc))
        return
    was = await broadcaster.cancel(job.id, event.bot, options)
    if was is None:
        await event.reply(
            _("Broadcast #{id} is not running (it is {state}).").format(
                id=job.id, state=state_label(job.state)
            )
        )
        return
    if was == SCHEDULED:
        await event.reply(
            _("Broadcast #{id} cancelled before it started: nothing was sent.").format(id=job.id)
        )
        return
    if options.report:
        await event.reply(
            _("Broadcast #{id} cancelled. The admins get its report.").format(id=job.id)
        )
    else:
        await event.reply(_("Broadcast #{id} cancelled.").format(id=job.id))


def parse_job_id(word: str) -> int | None:
    """``3``, ``#3`` or ``№3`` (digits 0-9 only) as a job id, else None."""
    digits = word.removeprefix("#").removeprefix("№")
    # isdigit() is true for "²", which int() refuses; int() reads "١", "１" and "1_0".
    return int(digits) if digits.isascii() and digits.isdecimal() else None
