"""Command names in the bot's language: a command's translated name becomes one of its aliases.

A plugin's catalog may translate a command's name in the ``command`` context
(``msgctxt "command"``, ``msgid "broadcast"``, ``msgstr "рассылка"``). When the
plugin loads, each of its commands gains the translation for ``[bot] language``
as an alias, and loses every alias that is the name's translation into another
language: a Russian bot answers ``/рассылка`` and ``/broadcast``, an English one
only ``/broadcast``, whether or not the plugin also listed ``рассылка`` among its
aliases. Aliases that translate nothing are kept in every language.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable

from botrt.handle import Flow
from botrt.i18n import Translator

COMMAND_CONTEXT = "command"
"""The gettext context of command names in a plugin's catalogs."""


def localize_commands(flows: Iterable[Flow], translator: Translator) -> None:
    """Give each command flow the aliases of `translator`'s current language (see the module).

    Idempotent: running it again, for the same or another language, starts
    from what the flow answers to now. A translation that is not one word is
    ignored (a command name cannot hold spaces). Raises nothing.
    """
    for flow in flows:
        binding = flow.binding
        spec = binding.command if binding is not None else None
        if binding is None or spec is None:
            continue
        own = translator.pgettext(COMMAND_CONTEXT, spec.name).strip().lower()
        if own == spec.name or len(own.split()) != 1:
            own = ""
        foreign = set(translator.translations(spec.name, COMMAND_CONTEXT).values()) - {own}
        foreign = {name.strip().lower() for name in foreign}
        aliases = [a for a in spec.aliases if a not in foreign or a == own]
        if own and own not in aliases:
            aliases.append(own)
        if tuple(aliases) == spec.aliases:
            continue
        # A copy, so an event already routed keeps the binding it was routed by.
        rebound = copy.copy(binding)
        rebound.command = dataclasses.replace(spec, aliases=tuple(aliases))
        flow.binding = rebound


def refusal_text(core: Translator, translator: Translator) -> Callable[[str], str]:
    """The refusal of a privileged command, as a function of the command's name.

    `core` holds the runtime's texts, `translator` the plugin's: the command
    is named as the bot's language names it (``Команда рассылка доступна
    только админам.``).
    """

    def refusal(name: str) -> str:
        shown = translator.pgettext(COMMAND_CONTEXT, name).strip().lower()
        if len(shown.split()) != 1:
            shown = name
        return core.gettext("Only admins can use {command}.").format(command=shown)

    return refusal
