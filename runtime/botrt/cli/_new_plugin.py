"""`botrt new-plugin NAME [--dir DIR]`: scaffold a plugin folder, its Russian catalog and its test.

The test goes OUTSIDE the plugin folder, into the ``tests/`` folder beside DIR
(``plugins/NAME/`` gets ``tests/test_NAME.py``, the layout `botrt init` makes). Inside
the folder it would become part of the plugin as soon as someone sets
``auto_import=True`` (every ``.py`` under the folder is then imported on load, pytest
included), and every edit of a test would hot-reload the running plugin.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import keyword
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from botrt.cli import _templates as t
from botrt.cli._common import read_config
from botrt.config import BotConfig, ConfigError, is_plugin_enabled, load_config

# A folder name that is also a plain command word and close to a Python identifier:
# lowercase so it reads the same on case-insensitive file systems and in `/name`.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,63}")
CONFIG_FILE = "bot.toml"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the command."""
    p = sub.add_parser(
        "new-plugin",
        help="scaffold a plugin folder (and its test in tests/)",
        description="Create DIR/NAME/__plugin__.py with one command named NAME, and its "
        "test in the tests/ folder beside DIR. Nothing existing is overwritten.",
    )
    p.add_argument("name", metavar="NAME", help="the plugin's (and its command's) name")
    p.add_argument(
        "--dir",
        default=None,
        metavar="DIR",
        help="the plugins folder (default: the first [plugins] dirs of ./bot.toml, else plugins)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="allow the name of a built-in plugin: the new plugin then replaces the built-in",
    )
    p.set_defaults(run=run)


def check_name(name: str) -> str | None:
    """Why `name` cannot name a plugin, or None when it can."""
    if NAME_PATTERN.fullmatch(name):
        return None
    return (
        f"{name!r} is not a valid plugin name: use 1-64 lowercase letters, digits, "
        "'_' or '-', starting with a letter (e.g. 'weather' or 'quiz_bot')"
    )


def function_name(name: str) -> str:
    """The Python identifier of the command handler for plugin `name` (already checked)."""
    ident = name.replace("-", "_")
    return f"{ident}_" if keyword.iskeyword(ident) else ident


def path_expression(target: Path, start: Path) -> str:
    """Python source for `target` written relative to the folder of a file in `start`.

    Both are resolved paths; the result reads like
    ``Path(__file__).resolve().parents[1] / "plugins" / "weather"``.
    """
    parts = Path(os.path.relpath(target, start)).parts
    up = 0
    while up < len(parts) and parts[up] == "..":
        up += 1
    base = "Path(__file__).resolve()." + ("parent" if up == 0 else f"parents[{up}]")
    # JSON string syntax is valid Python for any folder name, quotes and backslashes included.
    return " / ".join([base, *(json.dumps(part, ensure_ascii=False) for part in parts[up:])])


def _shown(path: Path) -> str:
    # Paths under the working directory read better relative to it.
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _plugins_dir(arg: str | None) -> tuple[Path, BotConfig | None] | None:
    """The folder to create the plugin in, and ./bot.toml's config if it exists and is valid.

    None (after printing why) when DIR comes from a ./bot.toml that is invalid.
    """
    config = None
    if Path(CONFIG_FILE).is_file():
        if arg is None:
            config = read_config(CONFIG_FILE)
            if config is None:
                print(f"botrt new-plugin: fix {CONFIG_FILE} or pass --dir", file=sys.stderr)
                return None
        else:
            # Read only for the hints at the end; --dir makes a broken file irrelevant.
            with contextlib.suppress(ConfigError):
                config = load_config(CONFIG_FILE)
    if arg is not None:
        return Path(arg).resolve(), config
    if config is not None and config.plugins.dirs:
        return config.plugins.dirs[0].resolve(), config
    return Path("plugins").resolve(), config


def run(args: argparse.Namespace) -> int:
    """Scaffold the plugin; 1 (writing nothing) on a bad name or an existing target."""
    name: str = args.name
    problem = check_name(name)
    if problem is not None:
        return _fail(problem)
    found = _plugins_dir(args.dir)
    if found is None:
        return 1
    plugins_dir, config = found
    shadowed = _shadowed_builtin(name, config)
    problem = _refusal(name, plugins_dir, shadowed, force=args.force)
    if problem is not None:
        return _fail(problem)
    scaffold = _Scaffold.plan(name, plugins_dir)
    problem = scaffold.taken() or scaffold.write()
    if problem is not None:
        return _fail(problem)
    for path in scaffold.files:
        print(f"created {_shown(path)}")
    if shadowed:
        print(f"note: it replaces the built-in plugin {name} ({shadowed}) in this bot")
    elif _is_builtin_dir(plugins_dir):
        print(
            f"note: {_shown(plugins_dir)} is botrt's own built-in plugins folder, so {name} is "
            "now a built-in of every bot run with this botrt; for a bot of your own, start a "
            "project with `botrt init mybot` and run new-plugin there"
        )
    _hints(name, plugins_dir, scaffold.conftest, scaffold.files, config)
    return 0


def _fail(problem: str) -> int:
    print(f"botrt new-plugin: {problem}", file=sys.stderr)
    return 1


def _refusal(name: str, plugins_dir: Path, shadowed: Path | None, *, force: bool) -> str | None:
    """Why the plugin cannot go into `plugins_dir`, or None when it can."""
    if shadowed and not force:
        return (
            f"{name!r} is the name of a built-in plugin ({shadowed}). A plugin "
            f"folder of that name in [plugins] dirs shadows it: the built-in {name} is no longer "
            "loaded and the new plugin runs in its place, with none of its commands unless you "
            "write them. Choose another name, or pass --force to replace the built-in on purpose."
        )
    if plugins_dir.exists() and not plugins_dir.is_dir():
        return f"{_shown(plugins_dir)} is not a folder"
    return None


@dataclass(frozen=True)
class _Scaffold:
    """The files a new plugin gets, by path, with their text; nothing written yet."""

    folder: Path
    test_file: Path
    conftest: Path
    files: dict[Path, str]

    @classmethod
    def plan(cls, name: str, plugins_dir: Path) -> _Scaffold:
        """The plugin folder in `plugins_dir`, its catalog, and its test beside DIR."""
        folder = plugins_dir / name
        # Beside DIR; when DIR is the working directory itself, its parent is outside the
        # project, so the tests go into DIR.
        base = plugins_dir if plugins_dir == Path.cwd().resolve() else plugins_dir.parent
        tests_dir = base / "tests"
        func = function_name(name)
        test_file = tests_dir / f"test_{func}.py"
        conftest = tests_dir / "conftest.py"
        catalog = folder / "locales" / "ru" / "LC_MESSAGES" / "messages.po"
        files = {
            folder / "__plugin__.py": t.NEW_PLUGIN.substitute(
                name=name, func=func, test_path=os.path.relpath(test_file, folder)
            ),
            catalog: t.NEW_PLUGIN_CATALOG.substitute(name=name),
            test_file: t.NEW_PLUGIN_TEST.substitute(
                name=name, func=func, plugin_expr=path_expression(folder, tests_dir)
            ),
        }
        # The anyio_backend fixture pins the tests to asyncio; an existing conftest is the
        # user's, so it is never touched.
        if not conftest.exists():
            files[conftest] = t.CONFTEST.substitute()
        return cls(folder, test_file, conftest, files)

    def taken(self) -> str | None:
        """Why the scaffold would overwrite something, or None."""
        for taken in (self.folder, self.test_file):
            if taken.exists() or taken.is_symlink():
                return f"{_shown(taken)} already exists; nothing was written"
        return None

    def write(self) -> str | None:
        """Write every file (none may exist); why it failed, or None."""
        try:
            for path, text in self.files.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("x", encoding="utf-8", newline="\n") as out:
                    out.write(text)
        except OSError as exc:
            return f"cannot write {exc.filename or self.folder}: {exc.strerror}"
        return None


def _is_builtin_dir(folder: Path) -> bool:
    from botrt.plugin._internal import builtin_plugins_dir

    builtin = builtin_plugins_dir()
    return builtin is not None and builtin.resolve() == folder.resolve()


def _shadowed_builtin(name: str, config: BotConfig | None) -> Path | None:
    """The built-in plugin folder a new plugin called `name` would shadow, if any."""
    if config is not None and not config.plugins.builtin:
        return None
    from botrt.plugin._internal import builtin_plugins_dir

    builtin = builtin_plugins_dir()
    if builtin is None:
        return None
    folder = builtin / name
    return folder if (folder / "__plugin__.py").is_file() else None


def _hints(
    name: str,
    plugins_dir: Path,
    conftest: Path,
    written: dict[Path, str],
    config: BotConfig | None,
) -> None:
    """Say what still stands between the new plugin and a running bot, if anything."""
    if conftest not in written and "anyio_backend" not in conftest.read_text("utf-8", "replace"):
        print(
            f"note: {_shown(conftest)} defines no anyio_backend fixture; add one returning "
            '"asyncio" so the async tests run on asyncio only'
        )
    if config is None:
        return
    if plugins_dir not in [d.resolve() for d in config.plugins.dirs]:
        print(f"note: {_shown(plugins_dir)} is not in [plugins] dirs of {CONFIG_FILE}")
    elif not is_plugin_enabled(config, name):
        print(f"note: {CONFIG_FILE} does not enable it yet: botrt plugins enable {name}")
