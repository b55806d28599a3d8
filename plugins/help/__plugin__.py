"""help: lists the commands the caller may use, and shows one command's usage.

``help`` (alias ``h``) lists commands grouped by plugin, with descriptions;
privileged commands are listed for admins only. ``help NAME`` shows a
command's usage and aliases. The list comes from the live command catalog,
so it follows loads, reloads and unloads at once. Long lists are split into
messages that fit VK's 4,096-character limit, at line boundaries (`split_text`).
"""

from botrt import PluginPlanner
from botrt.adapter import TextEvent, split_text
from botrt.handle import CommandArgs, on_command
from botrt.plugin import CommandCatalog, CommandInfo, Roles

HELP = PluginPlanner(version="1.0.0")


@HELP.use
@on_command(
    "help",
    aliases=["h"],
    description="list the commands you can use, or show one",
    usage="help [COMMAND]",
)
async def show_help(
    event: TextEvent, args: CommandArgs, catalog: CommandCatalog, roles: Roles
) -> None:
    """Reply with the command list, or with one command's details."""
    admin = await roles.is_admin(event)
    prefix = catalog.prefixes[0] if catalog.prefixes else ""
    wanted = args.argv[0] if args.argv else ""
    if wanted:
        info = catalog.find(wanted.lstrip("".join(catalog.prefixes)) or wanted)
        if info is None or (info.spec.privileged and not admin):
            await event.reply(f"No command {wanted!r}. Send {prefix}help for the list.")
            return
        await event.reply(describe(info, prefix))
        return
    for message in split_text("\n".join(listing(catalog.all(), prefix, admin=admin))):
        await event.reply(message)


def listing(commands: list[CommandInfo], prefix: str, *, admin: bool) -> list[str]:
    """The lines of the command list: a header per plugin, a line per command."""
    lines: list[str] = []
    current = None
    for info in commands:
        if info.spec.privileged and not admin:
            continue
        if info.plugin != current:
            if lines:
                lines.append("")
            lines.append(f"[{info.plugin}]")
            current = info.plugin
        mark = " (admins)" if info.spec.privileged else ""
        description = f" - {info.spec.description}" if info.spec.description else ""
        lines.append(f"{prefix}{info.name}{description}{mark}")
    if not lines:
        return ["No commands are available."]
    return ["Commands:", *lines, "", f"Send {prefix}help COMMAND for details."]


def describe(info: CommandInfo, prefix: str) -> str:
    """One command in full: usage, description, aliases."""
    spec = info.spec
    parts = [f"{prefix}{spec.usage or spec.name}"]
    if spec.description:
        parts.append(spec.description)
    if spec.aliases:
        parts.append("Aliases: " + ", ".join(prefix + a for a in spec.aliases))
    if spec.privileged:
        parts.append("For admins only.")
    parts.append(f"Plugin: {info.plugin}")
    return "\n".join(parts)
