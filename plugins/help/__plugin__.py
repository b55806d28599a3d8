"""help: lists the commands the caller may use, and shows one command's usage.

``help`` (alias ``h``; ``помощь`` in a Russian bot) lists commands grouped by
plugin, with descriptions; privileged commands are listed for admins only.
``help NAME`` shows a command's usage and aliases. The list comes from the
live command catalog, so it follows loads, reloads and unloads at once. Long
lists are split into messages that fit VK's 4,096-character limit, at line
boundaries (`split_text`).

Texts speak ``[bot] language``: this plugin's own from its catalogs
(``locales/``), and each command's name, description and usage from the
catalogs of the plugin that declares it. A command is shown under the name its
plugin translates it to (``pgettext("command", NAME)``) when that name is one of
its aliases (the runtime adds it in that language), so a Russian bot lists
``/помощь`` and still answers ``/help``;
``help NAME`` lists the other names, leaving out other languages' names.
"""

from botrt import PluginPlanner
from botrt.adapter import TextEvent, split_text
from botrt.handle import CommandArgs, on_command
from botrt.i18n import N_, Translator
from botrt.plugin import CommandCatalog, CommandInfo, Roles

HELP = PluginPlanner(version="1.0.0")
_ = HELP.gettext


@HELP.use
@on_command(
    "help",
    aliases=["h"],
    description=N_("list the commands you can use, or show one"),
    usage=N_("help [COMMAND]"),
)
async def show_help(
    event: TextEvent, args: CommandArgs, catalog: CommandCatalog, roles: Roles
) -> None:
    """Reply with the command list, or with one command's details."""
    admin = await roles.is_admin(event)
    prefix = catalog.prefixes[0] if catalog.prefixes else ""
    wanted = args.argv[0] if args.argv else ""
    spec = show_help.binding.command if show_help.binding is not None else None
    aliases = spec.aliases if spec is not None else ()
    itself = prefix + local_name(HELP.pgettext("command", "help"), "help", aliases)
    if wanted:
        info = catalog.find(wanted.lstrip("".join(catalog.prefixes)) or wanted)
        if info is None or (info.spec.privileged and not admin):
            await event.reply(
                _("No command {name}. Send {help} for the list.").format(
                    name=repr(wanted), help=itself
                )
            )
            return
        await event.reply(describe(info, prefix))
        return
    for message in split_text("\n".join(listing(catalog.all(), prefix, itself, admin=admin))):
        await event.reply(message)


def local_name(translated: str, name: str, aliases: tuple[str, ...]) -> str:
    """The name a command goes by in the bot's language: its `translated` name if it answers to it.

    `translated` is ``pgettext("command", name)`` from the declaring plugin's catalogs.
    """
    return translated if translated in aliases else name


def _texts(info: CommandInfo) -> Translator:
    return info.translator if info.translator is not None else HELP.translator


def listing(commands: list[CommandInfo], prefix: str, itself: str, *, admin: bool) -> list[str]:
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
        texts = _texts(info)
        spec = info.spec
        mark = _(" (admins)") if spec.privileged else ""
        description = f" - {texts.gettext(spec.description)}" if spec.description else ""
        name = local_name(texts.pgettext("command", spec.name), spec.name, spec.aliases)
        lines.append(f"{prefix}{name}{description}{mark}")
    if not lines:
        return [_("No commands are available.")]
    details = _("Send {help} COMMAND for details.").format(help=itself)
    return [_("Commands:"), *lines, "", details]


def describe(info: CommandInfo, prefix: str) -> str:
    """One command in full: usage, description, aliases."""
    spec = info.spec
    texts = _texts(info)
    name = local_name(texts.pgettext("command", spec.name), spec.name, spec.aliases)
    usage = texts.gettext(spec.usage) if spec.usage else name
    parts = [f"{prefix}{usage}"]
    if spec.description:
        parts.append(texts.gettext(spec.description))
    # Names in other languages work too, but each language's help shows its own.
    foreign = set(texts.translations(spec.name, "command").values()) - {name}
    others = [n for n in spec.names if n != name and n not in foreign]
    if others:
        parts.append(_("Aliases: {names}").format(names=", ".join(prefix + a for a in others)))
    if spec.privileged:
        parts.append(_("For admins only."))
    parts.append(_("Plugin: {plugin}").format(plugin=info.plugin))
    return "\n".join(parts)
