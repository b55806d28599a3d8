"""`botrt init [DIR]`: create a new bot project; never overwrite anything."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import tomli_w

from botrt.cli import _templates as t


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the command."""
    p = sub.add_parser(
        "init",
        help="create a new bot project (bot.toml, plugins/hello, tests/); never overwrites",
        description="Create a new bot project in DIR: bot.toml (console, SQLite, plugins/), "
        "an example plugin plugins/hello with its tests in tests/ (and pytest.ini), and a README. "
        "Nothing is written if any of these files already exists.",
    )
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="where (default: .)")
    p.set_defaults(run=run)


def project_files(root: Path) -> dict[Path, str]:
    """The files of a new project in `root`, path to text, in the order they are written."""
    name = root.resolve().name or "bot"
    # tomli-w quotes and escapes the folder name, whatever characters it holds.
    name_value = tomli_w.dumps({"name": name}).strip()
    name_line = f"{name_value.ljust(t.BOT_NAME_COLUMN - 1)} {t.BOT_NAME_COMMENT}"
    return {
        root / "bot.toml": t.BOT_TOML.substitute(name_line=name_line),
        root / "plugins" / "hello" / "__plugin__.py": t.HELLO_PLUGIN.substitute(),
        root / "tests" / "conftest.py": t.CONFTEST.substitute(),
        root / "tests" / "test_hello.py": t.HELLO_TEST.substitute(),
        root / "pytest.ini": t.PYTEST_INI.substitute(),
        root / "README.md": t.README.substitute(title=name),
    }


def run(args: argparse.Namespace) -> int:
    """Write the project; 1 (writing nothing) if any of its files exists or DIR is a file."""
    root = Path(args.dir)
    if root.exists() and not root.is_dir():
        print(f"botrt init: {root} exists and is not a folder", file=sys.stderr)
        return 1
    files = project_files(root)
    # Check every target before writing any, so a refusal leaves the folder as it was.
    existing = [path for path in files if path.exists() or path.is_symlink()]
    if existing:
        names = "\n".join(f"  {path}" for path in existing)
        print(
            f"botrt init: refusing to overwrite existing files; nothing was written:\n{names}",
            file=sys.stderr,
        )
        return 1
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Mode "x": a file that appeared since the check above is still never replaced.
            with path.open("x", encoding="utf-8", newline="\n") as out:
                out.write(text)
    except OSError as exc:
        print(f"botrt init: cannot write {exc.filename or root}: {exc.strerror}", file=sys.stderr)
        return 1
    for path in files:
        print(f"created {path}")
    where = "" if root == Path(".") else f"cd {shlex.quote(str(root))} && "
    print(f"\nnext: {where}botrt serve   (then type /hello; Ctrl-D stops it)")
    print("tests: python -m pytest tests -q")
    return 0
