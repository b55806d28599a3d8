"""`botrt plugins [list | enable NAME | disable NAME]`: see and switch plugins.

``list`` imports only the enabled plugins (a disabled plugin may be disabled because
importing it fails or has side effects), so a disabled one shows ``-`` for its
version. ``enable``/``disable`` edit ``bot.toml`` through `set_plugin_enabled`, which
keeps every other setting and, where it can, the comments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from botrt.cli._check import load_enabled
from botrt.cli._common import config_arg, read_config
from botrt.cli._words import count
from botrt.config import ConfigError, is_plugin_enabled, set_plugin_enabled

if TYPE_CHECKING:
    # Imported where used instead: see `botrt.cli._check`.
    from botrt.config import BotConfig
    from botrt.plugin import LoadedPlugin

COLUMNS = ("NAME", "VERSION", "FOLDER", "ENABLED", "FLOWS", "COMMANDS")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the command and its ``list``, ``enable`` and ``disable`` actions."""
    p = sub.add_parser(
        "plugins",
        help="list plugins, or enable/disable one in bot.toml",
        description="List every plugin found (default), or turn one on or off in bot.toml.",
    )
    config_help = "the bot.toml to read and edit (default: ./bot.toml)"
    p.add_argument("--config", default=None, help=config_help)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    # SUPPRESS: without a default of their own the actions keep a --config given
    # before them (`botrt plugins --config x list`) instead of resetting it.
    listing = actions.add_parser("list", help="list every plugin found (the default)")
    listing.add_argument("--config", default=argparse.SUPPRESS, help=config_help)
    for action, verb in (("enable", "turn on"), ("disable", "turn off")):
        a = actions.add_parser(action, help=f"{verb} plugin NAME in bot.toml")
        a.add_argument("plugin", metavar="NAME", help="the plugin's name (its folder's name)")
        a.add_argument("--config", default=argparse.SUPPRESS, help=config_help)
    p.set_defaults(run=run, action=None)


def run(args: argparse.Namespace) -> int:
    """Run the action; returns the exit status."""
    config = read_config(args.config)
    if config is None:
        return 1
    if args.action in ("enable", "disable"):
        return switch(config, Path(config_arg(args.config)), args.plugin, args.action == "enable")
    return list_plugins(config)


def found_plugins(config: BotConfig) -> dict[str, Path]:
    """Every plugin folder the config can see, by name, in discovery order."""
    from botrt.plugin._internal import builtin_plugins_dir, discover

    builtin = builtin_plugins_dir() if config.plugins.builtin else None
    return discover(config.plugins.dirs, builtin)


def list_plugins(config: BotConfig) -> int:
    """Print the table of plugins; exit status 0 even when some fail to import.

    Import problems go to standard error; the plugin's row says ``error``.
    """
    from botrt.plugin._internal import commands_of, unload_modules

    found = found_plugins(config)
    if not found:
        dirs = ", ".join(_shown(d, config) for d in config.plugins.dirs) or "(no dirs)"
        print(f"no plugins found (searched {dirs})")
        return 0
    loaded, issues = load_enabled(config)
    try:
        by_name: dict[str, LoadedPlugin] = {p.name: p for p in loaded}
        rows = [COLUMNS]
        for name, folder in found.items():
            enabled = is_plugin_enabled(config, name)
            plugin = by_name.get(name)
            if plugin is not None:
                commands = ", ".join(c.name for c in commands_of(plugin)) or "-"
                version, flows = plugin.version, str(len(plugin.flows))
            else:
                # Enabled but not loaded means it failed to import.
                version, flows, commands = ("error" if enabled else "-"), "-", "-"
            shown = _shown(folder, config)
            rows.append((name, version, shown, "yes" if enabled else "no", flows, commands))
    finally:
        for plugin in loaded:
            unload_modules(plugin)
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())
    if issues:
        print(f"{count(len(issues), 'problem')} with enabled plugins:", file=sys.stderr)
        for issue in issues:
            print(f"  {issue}", file=sys.stderr)
    return 0


def switch(config: BotConfig, path: Path, name: str, enabled: bool) -> int:
    """Enable or disable plugin `name` in the bot.toml at `path`; print what changed."""
    verb = "enable" if enabled else "disable"
    if not path.is_file():
        # Creating a bot.toml here would silently start a new bot's config; say how instead.
        print(
            f"botrt plugins {verb}: {path} does not exist; create a project with "
            "`botrt init` or pass --config FILE",
            file=sys.stderr,
        )
        return 1
    found = found_plugins(config)
    if name not in found:
        known = ", ".join(found) or "(none)"
        print(
            f"botrt plugins {verb}: no plugin named {name!r} in the plugin folders of {path}\n"
            f"  known plugins: {known}",
            file=sys.stderr,
        )
        return 1
    before_text = path.read_bytes()
    was = is_plugin_enabled(config, name)
    try:
        set_plugin_enabled(path, name, enabled)
    except ConfigError as exc:
        print(f"botrt plugins {verb}: cannot edit the configuration:\n{exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"botrt plugins {verb}: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return 1
    state = "enabled" if enabled else "disabled"
    if path.read_bytes() == before_text:
        print(f"plugin {name!r} is already {state}; {path} unchanged")
    elif was == enabled:
        # The lists changed (say an explicit entry was added) but the outcome did not.
        print(f"plugin {name!r} stays {state}; {path} updated")
    else:
        print(f"plugin {name!r} {state} in {path}")
    return 0


def _shown(folder: Path, config: BotConfig) -> str:
    # Relative to bot.toml's folder when inside it: short, and what `dirs` says.
    try:
        return str(folder.relative_to(config.base_dir.resolve()))
    except ValueError:
        return str(folder)
