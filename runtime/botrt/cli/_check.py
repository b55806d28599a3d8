"""`botrt check`: validate config and plugins without connecting to any platform."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from botrt.cli._common import config_arg, read_config
from botrt.cli._words import count

if TYPE_CHECKING:
    # The plugin machinery is imported by the functions that run a command, not here:
    # `botrt` imports every command's module to build its parser (see `_main`).
    from botrt.config import BotConfig, Diagnosis
    from botrt.plugin import LoadedPlugin, PluginIssue


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the command."""
    p = sub.add_parser("check", help="validate bot.toml and every enabled plugin")
    p.add_argument("--config", default=None, help="the bot.toml to check (default: ./bot.toml)")
    p.set_defaults(run=run)


def plugin_folders(config: BotConfig) -> tuple[dict[str, Path], Path | None]:
    """Every plugin folder the config can see, by name, and the built-in plugins' folder."""
    from botrt.plugin._internal import builtin_plugins_dir, discover

    builtin = builtin_plugins_dir() if config.plugins.builtin else None
    return discover(config.plugins.dirs, builtin), builtin


def load_enabled(
    config: BotConfig, folders: Mapping[str, Path] | None = None
) -> tuple[list[LoadedPlugin], list[PluginIssue]]:
    """Import every enabled plugin (of `folders`, default: all found); what loaded, and problems."""
    from botrt.config import is_plugin_enabled
    from botrt.plugin import PluginLoadError, load_plugin
    from botrt.plugin._internal import find_clashes, find_uninjectable

    if folders is None:
        folders = plugin_folders(config)[0]
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
    issues.extend(find_uninjectable(loaded))
    return loaded, issues


def written_config(given: str | None) -> dict[str, object]:
    """The raw TOML of the config file, {} when there is none (it parsed once already)."""
    from botrt.config import ConfigError
    from botrt.config._internal import read_toml

    try:
        return read_toml(config_arg(given), missing_ok=True) or {}
    except ConfigError:
        return {}


def diagnose(
    config: BotConfig, given: str | None, *, only_with_settings: bool = False
) -> tuple[Diagnosis, list[LoadedPlugin], list[PluginIssue]]:
    """Every problem of the setup: ``[plugins]`` against the folders, then each plugin's settings.

    Returns the diagnosis, the plugins imported (the caller unloads them) and
    their load problems. With `only_with_settings`, only the enabled plugins that
    have a settings table are imported (what `serve` needs to refuse bad settings).
    """
    from botrt.config import diagnose_settings, diagnose_setup

    folders, builtin = plugin_folders(config)
    result = diagnose_setup(config, written_config(given), folders, builtin)
    if only_with_settings:
        folders = {n: f for n, f in folders.items() if n in config.plugins.settings}
    loaded, issues = load_enabled(config, folders)
    settings = diagnose_settings(config, loaded)
    result.errors.extend(settings.errors)
    result.warnings.extend(settings.warnings)
    return result, loaded, issues


MISSING_SHOWN = 10
"""Untranslated texts listed one by one per plugin; the rest are counted."""


def translation_warnings(plugins: list[LoadedPlugin], language: str) -> list[str]:
    """A warning per text of a plugin that its catalog of `language` does not translate.

    A plugin with texts and no catalog of that language at all gets one warning.
    """
    from botrt.i18n import CatalogError, missing_translations

    warnings: list[str] = []
    for plugin in plugins:
        try:
            missing = missing_translations(plugin.folder, [language])
        except CatalogError as exc:  # the load read it fine; a concurrent edit broke it
            warnings.append(f"plugin {plugin.name!r}: {exc}")
            continue
        if not missing:
            continue
        catalog = missing[0].catalog
        if not catalog.is_file():
            warnings.append(
                f"plugin {plugin.name!r}: {count(len(missing), 'text')} marked for translation "
                f"and no {language} catalog ({catalog}): they are shown as written"
            )
            continue
        for m in missing[:MISSING_SHOWN]:
            warnings.append(f"plugin {plugin.name!r}: {m}")
        if len(missing) > MISSING_SHOWN:
            rest = len(missing) - MISSING_SHOWN
            warnings.append(
                f"plugin {plugin.name!r}: {count(rest, 'more text')} without a {language} "
                f"translation in {catalog}"
            )
    return warnings


def report(found: Diagnosis, issues: list[PluginIssue], given: str | None) -> None:
    """Print the warnings and errors of a setup to standard error."""
    for warning in found.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    errors = [i.render(config_arg(given)) for i in found.errors] + [str(i) for i in issues]
    if errors:
        print(f"{count(len(errors), 'error')}:", file=sys.stderr)
        for line in errors:
            print("  " + line.replace("\n", "\n  "), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Print a summary, every warning and every error; 0 when valid, 1 otherwise."""
    config = read_config(args.config)
    if config is None:
        return 1
    from botrt.plugin._internal import commands_of, unload_modules

    found, loaded, issues = diagnose(config, args.config)
    found.warnings.extend(translation_warnings(loaded, config.bot.language))
    try:
        for plugin in loaded:
            nodes = sum(len(f.nodes) for f in plugin.flows)
            commands = ", ".join(c.name for c in commands_of(plugin)) or "-"
            print(
                f"{plugin.name} {plugin.version}: {count(len(plugin.flows), 'flow')}, "
                f"{count(nodes, 'node')}, commands: {commands}"
            )
    finally:
        for plugin in loaded:
            unload_modules(plugin)
    if not loaded and not issues and not found.errors:
        found.warnings.append("no plugin is enabled: the bot will answer nothing")
    report(found, issues, args.config)
    if issues or found.errors:
        return 1
    print(f"ok: {count(len(loaded), 'plugin')}")
    return 0
