"""`botrt check`: validate config and plugins without connecting to any platform."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from botrt.cli._common import read_config

if TYPE_CHECKING:
    # The plugin machinery is imported by the functions that run a command, not here:
    # `botrt` imports every command's module to build its parser (see `_main`).
    from botrt.config import BotConfig
    from botrt.plugin import LoadedPlugin, PluginIssue


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the command."""
    p = sub.add_parser("check", help="validate bot.toml and every enabled plugin")
    p.add_argument(
        "--config", default="bot.toml", help="the bot.toml to check (default: ./bot.toml)"
    )
    p.set_defaults(run=run)


def load_enabled(config: BotConfig) -> tuple[list[LoadedPlugin], list[PluginIssue]]:
    """Import every enabled plugin; returns what loaded and every problem found."""
    from botrt.config import is_plugin_enabled
    from botrt.plugin import PluginLoadError, load_plugin
    from botrt.plugin._catalog import builtin_plugins_dir, discover, find_clashes

    p = config.plugins
    folders = discover(p.dirs, builtin_plugins_dir() if p.builtin else None)
    loaded: list[LoadedPlugin] = []
    issues: list[PluginIssue] = []
    for generation, (name, folder) in enumerate(folders.items(), 1):
        if not is_plugin_enabled(config, name):
            continue
        try:
            loaded.append(load_plugin(name, folder, generation))
        except PluginLoadError as exc:
            issues.extend(exc.issues)
    issues.extend(find_clashes(loaded))
    return loaded, issues


def run(args: argparse.Namespace) -> int:
    """Print a summary and every error; 0 when valid, 1 otherwise."""
    config = read_config(args.config)
    if config is None:
        return 1
    from botrt.plugin._catalog import commands_of
    from botrt.plugin._loader import unload_modules

    loaded, issues = load_enabled(config)
    try:
        for plugin in loaded:
            nodes = sum(len(f.nodes) for f in plugin.flows)
            commands = ", ".join(c.name for c in commands_of(plugin)) or "-"
            print(
                f"{plugin.name} {plugin.version}: {len(plugin.flows)} flows, {nodes} nodes, "
                f"commands: {commands}"
            )
    finally:
        for plugin in loaded:
            unload_modules(plugin)
    if issues:
        print(f"{len(issues)} error(s):", file=sys.stderr)
        for issue in issues:
            print(f"  {issue}", file=sys.stderr)
        return 1
    print(f"ok: {len(loaded)} plugin(s)")
    return 0
