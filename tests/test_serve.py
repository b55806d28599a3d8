"""`botrt serve` as a real subprocess: the console I/O contract and graceful shutdown."""

from __future__ import annotations

import shutil
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOTRT = shutil.which("botrt") or "botrt"

SLOW = """
import logging

import anyio

from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command

PLUGIN = PluginPlanner(version="1.0.0")
log = logging.getLogger("slowplugin")


@PLUGIN.use
@on_command("slow")
async def slow(event: TextEvent) -> None:
    log.warning("slow started")
    await anyio.sleep(1.0)  # the work in flight when the signal arrives
    await event.reply("slow done")


@PLUGIN.use
@on_command("secret", privileged=True)
async def secret(event: TextEvent) -> None:
    await event.reply("for admins")


@PLUGIN.on_unload
def bye() -> None:
    log.warning("unloaded cleanly")
"""


def make_bot(tmp_path: Path, *, role: str = "admin") -> Path:
    plugin = tmp_path / "plugins" / "slow"
    plugin.mkdir(parents=True)
    (plugin / "__plugin__.py").write_text(textwrap.dedent(SLOW), encoding="utf-8")
    config = tmp_path / "bot.toml"
    config.write_text(
        textwrap.dedent(f"""
        [plugins]
        dirs = ["plugins", "{ROOT / "examples"}"]
        builtin = false

        [console]
        user_id = 7
        role = "{role}"
        """),
        encoding="utf-8",
    )
    return config


def serve(config: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BOTRT, "serve", "--config", str(config), "--no-reload"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_piped_session_prints_only_replies(tmp_path: Path) -> None:
    config = make_bot(tmp_path)
    result = serve(config, "/echo hi\nnot a command\n/say two words\n/secret\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hi\ntwo words\nfor admins\n"
    assert "plugin echo 1.0.0 loaded" in result.stderr


def test_console_role_comes_from_bot_toml(tmp_path: Path) -> None:
    config = make_bot(tmp_path, role="member")
    result = serve(config, "/secret\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Only admins can use secret.\n"


def test_end_of_input_waits_for_in_flight_events(tmp_path: Path) -> None:
    config = make_bot(tmp_path)
    result = serve(config, "/slow\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "slow done\n"
    assert "unloaded cleanly" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_drains_in_flight_events_and_exits_zero(
    tmp_path: Path, signum: signal.Signals
) -> None:
    config = make_bot(tmp_path)
    proc = subprocess.Popen(
        [BOTRT, "serve", "--config", str(config), "--no-reload"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdin is not None
        assert proc.stderr is not None
        proc.stdin.write("/slow\n")
        proc.stdin.flush()
        seen = []
        for line in proc.stderr:  # wait until the event is really in flight
            seen.append(line)
            if "slow started" in line:
                break
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, "".join(seen) + err
    assert out == "slow done\n"
    assert "unloaded cleanly" in err


def test_invalid_config_is_refused_with_the_key_path(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text('[server]\nport = "8080"\n', encoding="utf-8")
    result = serve(config, "")
    assert result.returncode == 1
    assert "server.port" in result.stderr
    assert result.stdout == ""


def test_check_lists_plugins_and_errors(tmp_path: Path) -> None:
    config = make_bot(tmp_path)
    ok = subprocess.run(
        [BOTRT, "check", "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    assert "slow 1.0.0: 1 flows" not in ok.stdout  # two commands, two flows
    assert "slow 1.0.0: 2 flows, 2 nodes, commands: slow, secret" in ok.stdout
    broken = tmp_path / "plugins" / "broken"
    broken.mkdir()
    (broken / "__plugin__.py").write_text("x = (\n", encoding="utf-8")
    bad = subprocess.run(
        [BOTRT, "check", "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1
    assert f"{broken / '__plugin__.py'}:1: plugin 'broken': SyntaxError" in bad.stderr
