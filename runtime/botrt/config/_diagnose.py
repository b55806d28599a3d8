"""What ``bot.toml`` says about plugins, checked against the plugins actually found.

The schema (`botrt.config`) knows the types of ``[plugins]``; only the folders on
disk and the plugins' own declarations can tell whether ``enabled = ["helo"]``
names a plugin, whether a ``dirs`` folder exists, or whether
``[plugins.settings.attendance] lessons = 5`` is what attendance takes. `botrt
check` and `botrt serve` both ask here, so they refuse the same setups with the
same words.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botrt.config._errors import ConfigIssue
from botrt.config._keys import join_index, join_key

if TYPE_CHECKING:
    from botrt.config import BotConfig
    from botrt.plugin import LoadedPlugin

PLUGIN_FILE = "__plugin__.py"  # the loader's marker file; imported lazily there


@dataclass
class Diagnosis:
    """Problems of a setup: `errors` stop it from running, `warnings` are worth a look."""

    errors: list[ConfigIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, path: str, message: str) -> None:
        """Record an error at key path `path` of ``bot.toml``."""
        self.errors.append(ConfigIssue(path, message))


def diagnose_setup(
    config: BotConfig, written: Mapping[str, Any], found: Mapping[str, Path], builtin: Path | None
) -> Diagnosis:
    """Check ``[plugins]`` against the plugin folders `found` (by name), without importing any.

    `written` is the raw TOML of the file (empty when there is none), to tell a
    key the user wrote from a default: a missing default ``plugins`` folder is
    no mistake, a missing folder the file names is.
    """
    d = Diagnosis()
    p = config.plugins
    plugins_written = written.get("plugins")
    dirs_written = isinstance(plugins_written, dict) and "dirs" in plugins_written
    for i, folder in enumerate(p.dirs):
        if folder.is_dir():
            if folder != builtin:
                d.warnings.extend(_strays(folder))
        elif dirs_written:
            what = "is not a folder" if folder.exists() else "no such folder"
            d.error(join_index("plugins.dirs", i), f"{what}: {folder}")
    names = sorted(found)
    for i, name in enumerate(p.enabled):
        if name != "*" and name not in found:
            d.error(join_index("plugins.enabled", i), _no_plugin(name, names))
    for name in p.disabled:
        if name != "*" and name not in found:
            d.warnings.append(f"plugins.disabled: {_no_plugin(name, names)}")
    for name in p.settings:
        if name not in found:
            d.error(join_key("plugins.settings", name), _no_plugin(name, names))
    return d


def diagnose_settings(config: BotConfig, loaded: Iterable[LoadedPlugin]) -> Diagnosis:
    """Check each loaded plugin's ``[plugins.settings.<name>]`` against what it declares."""
    from botrt.config._plugin_settings import (
        SettingsSchemaError,
        check_plugin_settings,
        settings_path,
    )

    d = Diagnosis()
    for plugin in loaded:
        raw = config.plugins.settings_for(plugin.name)
        schema = plugin.planner.settings
        if schema is None:
            if raw:
                d.warnings.append(
                    f"{settings_path(plugin.name)}: plugin {plugin.name!r} declares no "
                    "settings (PluginPlanner(settings=...)), so these keys are not checked: "
                    + ", ".join(raw)
                )
            continue
        try:
            _, issues = check_plugin_settings(plugin.name, schema, raw)
        except SettingsSchemaError as exc:
            d.warnings.append(f"plugin {plugin.name!r}: its settings cannot be checked: {exc}")
            continue
        d.errors.extend(issues)
    return d


def _no_plugin(name: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    known = ", ".join(names) or "none"
    return f'no plugin named "{name}"{hint}; the plugins found are: {known}'


def _strays(folder: Path) -> list[str]:
    """What in a plugins folder looks meant as a plugin but is not one, each with why."""
    out = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith((".", "_")):
            continue  # hidden files, __pycache__, private helpers
        if child.is_dir() and not (child / PLUGIN_FILE).is_file():
            out.append(f"{child}: no {PLUGIN_FILE} in this folder, so it is not a plugin (skipped)")
        elif child.is_file() and child.suffix == ".py":
            out.append(
                f"{child}: a plugin is a folder holding {PLUGIN_FILE}, so this file is skipped "
                f"(move it to {child.with_suffix('')}/{PLUGIN_FILE})"
            )
    return out
