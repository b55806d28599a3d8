"""Hot reload in a real `botrt serve`: edit a plugin while the process keeps answering."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

BOTRT = shutil.which("botrt") or "botrt"

PLUGIN = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command

PLUGIN = PluginPlanner(version="{v}")


@PLUGIN.use
@on_command("ver")
async def ver(event: TextEvent) -> None:
    await event.reply("version {v}")
"""


def test_an_edit_goes_live_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    plugin = tmp_path / "plugins" / "ver" / "__plugin__.py"
    plugin.parent.mkdir(parents=True)
    plugin.write_text(textwrap.dedent(PLUGIN.format(v="1")), encoding="utf-8")
    config = tmp_path / "bot.toml"
    config.write_text('[plugins]\ndirs = ["plugins"]\nbuiltin = false\n', encoding="utf-8")
    proc = subprocess.Popen(
        [BOTRT, "serve", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    stderr: list[str] = []

    def ask(text: str) -> str:
        proc.stdin.write(text + "\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        return proc.stdout.readline().rstrip("\n")  # type: ignore[union-attr]

    def wait_log(needle: str) -> str:
        for line in proc.stderr:  # type: ignore[union-attr]
            stderr.append(line)
            if needle in line:
                return line
        raise AssertionError(f"{needle!r} never logged:\n{''.join(stderr)}")

    try:
        wait_log("reload: watching")
        assert ask("/ver") == "version 1"
        plugin.write_text(textwrap.dedent(PLUGIN.format(v="2")), encoding="utf-8")
        line = wait_log("reload: ver")
        assert "1 -> 2" in line
        assert ask("/ver") == "version 2"

        plugin.write_text("def broken(:\n", encoding="utf-8")
        refused = wait_log("reload: ver refused")
        assert f"{plugin}:1: plugin 'ver': SyntaxError" in refused
        assert ask("/ver") == "version 2"
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
