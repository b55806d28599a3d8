"""The ``broadcast`` and ``broadcast-admins`` commands: parse, store the job, answer."""

from __future__ import annotations

from __plugin__ import BROADCAST, live

from botrt.adapter import TextEvent
from botrt.handle import on_command
from botrt.plugin import CommandCatalog, Members, Messenger, PluginSettings
from botrt.protocols.vk import MessageNew

from .model import ADMINS, MEMBERS
from .report import render_report, render_status
from .settings import Options

RECENT = 5
"""How many ended jobs ``status`` lists besides the running ones."""
SUBCOMMANDS = ("status", "cancel")


@BROADCAST.use
@on_command(
    "broadcast",
    aliases=["mb"],
    description="send a message to every member of the community",
    usage="broadcast TEXT | status [N] | cancel N",
    privileged=True,
)
async def broadcast(
    event: TextEvent,
    members: Members,
    messenger: Messenger,
    settings: PluginSettings,
    catalog: CommandCatalog,
) -> None:
    """Start a broadcast to every stored member, or run a subcommand."""
    await handle(event, MEMBERS, members, messenger, settings, catalog)


@BROADCAST.use
@on_command(
    "broadcast-admins",
    aliases=["ma"],
    description="send a message to the admins of the community",
    usage="broadcast-admins TEXT | status [N] | cancel N",
    privileged=True,
)
async def broadcast_admins(
    event: TextEvent,
    members: Members,
    messenger: Messenger,
    settings: PluginSettings,
    catalog: CommandCatalog,
) -> None:
    """Start a broadcast to the admins, or run a subcommand."""
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
    name = "broadcast-admins" if audience == ADMINS else "broadcast"
    text = message_text(event)
    sub = subcommand(text)
    if sub is not None:
        await run_subcommand(event, sub[0], sub[1], settings, f"{prefix}{name}")
        return
    attachment = ",".join(event.attachment_ids) if isinstance(event, MessageNew) else ""
    if not text and not attachment:
        await event.reply(usage(prefix, name, audience))
        return
    try:
        options = Options.from_settings(settings)
    except ValueError as exc:
        await event.reply(f"Broadcast is misconfigured: {exc}")
        return
    if event.bot not in messenger.bots():
        await event.reply(f"Bot {event.bot!r} cannot send messages on its own here.")
        return
    if audience == MEMBERS:
        peers = [m.user_id for m in await members.all(event.bot)]
        if not peers:
            await event.reply("No members are stored for this bot yet.")
            return
    else:
        # The admin who asks gets a copy too: on the console, nobody else may be known.
        peers = sorted(await members.admin_ids(event.bot) | {event.user_id})
    peers = list(dict.fromkeys(peers))
    broadcaster = live()
    job = await broadcaster.store.create(
        bot=event.bot,
        audience=audience,
        text=text,
        attachment=attachment,
        created_by=event.user_id,
        peer_ids=peers,
    )
    broadcaster.start(job, options)
    plural = "" if job.planned == 1 else "s"
    await event.reply(f"Broadcast #{job.id} started: {job.planned} recipient{plural}.")


def message_text(event: TextEvent) -> str:
    """The text after the command word, line breaks kept.

    Split on any whitespace as the dispatcher does, so ``/mb`` followed by a
    new line keeps the first line of the message.
    """
    parts = event.text.split(None, 1)
    return parts[1].strip() if len(parts) > 1 else ""


def subcommand(text: str) -> tuple[str, str | None] | None:
    """``("status", None)``, ``("cancel", "3")``...: the subcommand `text` is, or None for text.

    A subcommand is one or two words, the first ``status`` or ``cancel``.
    """
    words = text.split()
    if 1 <= len(words) <= 2 and words[0].lower() in SUBCOMMANDS:
        return words[0].lower(), words[1] if len(words) == 2 else None
    return None


def usage(prefix: str, name: str, audience: str) -> str:
    """The answer to a command with nothing to send."""
    whom = "the admins" if audience == ADMINS else "every member"
    return "\n".join(
        [
            "Nothing to send. Usage:",
            f"{prefix}{name} TEXT - send TEXT, with this message's attachments, to {whom}",
            f"{prefix}{name} status [N] - running and recent broadcasts, or broadcast N",
            f"{prefix}{name} cancel N - stop broadcast N",
        ]
    )


async def run_subcommand(
    event: TextEvent, word: str, arg: str | None, settings: PluginSettings, command: str
) -> None:
    """``status``, ``status N`` or ``cancel N`` for the bot that received `event`."""
    broadcaster = live()
    store = broadcaster.store
    if word == "status" and arg is None:
        await event.reply(render_status(await store.recent(event.bot, RECENT)))
        return
    if arg is None:
        await event.reply(
            f"Which broadcast? Usage: {command} cancel N ({command} status lists them)."
        )
        return
    job_id = parse_job_id(arg)
    job = await store.get(job_id) if job_id is not None else None
    if job is None or job.bot != event.bot:
        await event.reply(f"No broadcast {arg!r} here. Send {command} status for the list.")
        return
    if word == "status":
        groups = await store.failure_groups(job.id)
        await event.reply(render_report(job, groups))
        return
    try:
        options = Options.from_settings(settings)
    except ValueError as exc:
        await event.reply(f"Broadcast is misconfigured: {exc}")
        return
    if not await broadcaster.cancel(job.id, event.bot, options):
        await event.reply(f"Broadcast #{job.id} is not running (it is {job.state}).")
        return
    note = " The admins get its report." if options.report else ""
    await event.reply(f"Broadcast #{job.id} cancelled.{note}")


def parse_job_id(word: str) -> int | None:
    """``3`` or ``#3`` as a job id, else None."""
    digits = word.removeprefix("#")
    return int(digits) if digits.isdigit() and len(digits) < 10 else None
