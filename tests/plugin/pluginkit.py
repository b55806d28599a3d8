"""Helpers for plugin tests: write plugin folders from inline sources."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_plugin(root: Path, name: str, files: dict[str, str]) -> Path:
    """Create `root/name` with the given files (relative path -> source); returns the folder."""
    folder = root / name
    for rel, source in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    return folder


def line_of(path: Path, needle: str) -> int:
    """The 1-based line number of the first line containing `needle`."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


ECHO = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import CommandArgs, on_command

PLUGIN = PluginPlanner(version="{version}")


@PLUGIN.use
@on_command("{command}", aliases={aliases!r}, description="echo", usage="{command} TEXT")
async def handler(event: TextEvent, args: CommandArgs) -> None:
    await event.reply("{reply}" + str(args))
"""


def echo_plugin(
    root: Path,
    name: str,
    *,
    command: str = "echo",
    aliases: tuple[str, ...] = (),
    reply: str = "",
    version: str = "1.0.0",
) -> Path:
    """A plugin with one command that replies `reply` + its arguments."""
    source = ECHO.format(version=version, command=command, aliases=list(aliases), reply=reply)
    return write_plugin(root, name, {"__plugin__.py": source})
