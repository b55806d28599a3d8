"""Questions asked of a loaded config: is a plugin on, and what a reload can't apply live."""

from __future__ import annotations

from botrt.config._model import BotConfig


def is_plugin_enabled(config: BotConfig, name: str) -> bool:
    """Whether plugin `name` is on: listed in ``enabled`` (or ``"*"`` is) and not disabled.

    ``disabled`` wins over ``enabled``, and ``"*"`` there disables every plugin.
    Raises nothing.
    """
    plugins = config.plugins
    if name in plugins.disabled or "*" in plugins.disabled:
        return False
    return name in plugins.enabled or "*" in plugins.enabled


# What a running bot can take from a re-read bot.toml without restarting: plugin
# settings and which plugins run (the host loads/unloads them), and who may do what.
LIVE_KEYS = (
    "plugins.settings",
    "plugins.enabled",
    "plugins.disabled",
    "bot.prefixes",
    "bot.admins",
)


def restart_needed(old: BotConfig, new: BotConfig) -> list[str]:
    """The settings that differ between `old` and `new` and take effect only on restart.

    Returns key paths in file order, among ``bot.name``, ``bot.timezone``, ``bot.language``,
    ``bot.error_reply``, ``bot.unknown_command_reply``, ``bot.flood``,
    ``plugins.dirs``, ``plugins.reload``, ``plugins.builtin``, ``storage``,
    ``console``, ``server``, ``bots``, ``conversations`` and ``cluster``; an empty list
    means every change (if any) is one of `LIVE_KEYS` and can be applied to the running
    bot. Raises nothing.
    """
    candidates = {
        "bot.name": (old.bot.name, new.bot.name),
        "bot.timezone": (old.bot.timezone, new.bot.timezone),
        "bot.language": (old.bot.language, new.bot.language),
        "bot.error_reply": (old.bot.error_reply, new.bot.error_reply),
        "bot.unknown_command_reply": (old.bot.unknown_command_reply, new.bot.unknown_command_reply),
        "bot.flood": (old.bot.flood, new.bot.flood),
        "plugins.dirs": (old.plugins.dirs, new.plugins.dirs),
        "plugins.reload": (old.plugins.reload, new.plugins.reload),
        "plugins.builtin": (old.plugins.builtin, new.plugins.builtin),
        "storage": (old.storage, new.storage),
        "console": (old.console, new.console),
        "server": (old.server, new.server),
        "bots": (old.bots, new.bots),
        "conversations": (old.conversations, new.conversations),
        "cluster": (old.cluster, new.cluster),
    }
    return [key for key, (before, after) in candidates.items() if before != after]
