"""The broadcast plugin from ``botrt serve`` on the console: what it says and shows."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import anyio
import pytest

from botrt.adapter import MemberInfo
from botrt.plugin import Members
from botrt.storage import Storage

ROOT = Path(__file__).resolve().parents[2]
BOTRT = shutil.which("botrt") or "botrt"


def make_bot(tmp_path: Path) -> Path:
    config = tmp_path / "bot.toml"
    config.write_text(
        textwrap.dedent(f"""
        [plugins]
        dirs = ["{ROOT / "plugins"}"]
        enabled = ["broadcast"]
        builtin = false

        [console]
        user_id = 7
        role = "admin"
        """),
        encoding="utf-8",
    )
    return config


def test_with_no_stored_members_the_console_says_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [BOTRT, "serve", "--config", str(make_bot(tmp_path)), "--no-reload"],
        input="/mb hello\n/mb status\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "No members are stored for this bot yet.\nNo broadcasts yet.\n"


@pytest.mark.anyio
async def test_the_console_shows_whom_a_broadcast_reaches_and_the_report(tmp_path: Path) -> None:
    config = make_bot(tmp_path)
    storage = await Storage.open("sqlite:///botrt.db", base_dir=tmp_path)
    try:
        members = Members(storage.for_plugin("botrt"), lambda: ())
        await members.setup()
        people = [MemberInfo(11, "Ann", "Lee"), MemberInfo(12, "Bo", "Ray"), MemberInfo(13)]
        await members.sync("console", people)
    finally:
        await storage.close()

    command = [BOTRT, "serve", "--config", str(config), "--no-reload"]
    async with await anyio.open_process(command) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        await proc.stdin.send(b"/mb hello\n")
        out = ""
        with anyio.fail_after(30):
            async for chunk in proc.stdout:
                out += chunk.decode()
                if "Failed: 0" in out:
                    break
        await proc.stdin.aclose()  # end of input ends the session
        with anyio.fail_after(30):
            assert await proc.wait() == 0
    assert out.splitlines() == [
        "Broadcast #1 started: 3 recipients.",
        "[to 3: 11, 12, 13] hello",
        "[to 7] Broadcast #1 finished: all members.",
        'Text: "hello"',
        "Planned: 3",
        "Sent: 3",
        "Failed: 0",
    ]
