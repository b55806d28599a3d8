"""`botrt plugins`: the table, and enable/disable round trips that `botrt check` reflects."""

from __future__ import annotations

import subprocess
import textwrap
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

Runner = Callable[..., subprocess.CompletedProcess[str]]

BOT_TOML = """\
# my bot, hand-written
[bot]
name = "lessons"
prefixes = ["!"]             # only "!"
admins = [42]

[plugins]
dirs = ["plugins", "more"]   # both folders
enabled = ["*"]
disabled = ["beta"]          # not yet
builtin = false

[plugins.settings.alpha]
greeting = "hi ${USER_NAME}"  # expanded at load, kept as written on edits

[storage]
url = "sqlite:///data/bot.db"

[server]
port = 9001
"""


def plugin(version: str, command: str) -> str:
    return textwrap.dedent(
        f'''\
        from botrt import PluginPlanner
        from botrt.adapter import TextEvent
        from botrt.handle import on_command

        PLUGIN = PluginPlanner("{version}")


        @PLUGIN.use
        @on_command("{command}")
        async def handler(event: TextEvent) -> None:
            await event.reply("{command}")
        '''
    )


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # The subprocesses inherit the environment: ${USER_NAME} must expand.
    monkeypatch.setenv("USER_NAME", "Ann")
    write(tmp_path / "bot.toml", BOT_TOML)
    write(tmp_path / "plugins" / "alpha" / "__plugin__.py", plugin("1.2.0", "alpha"))
    write(tmp_path / "more" / "beta" / "__plugin__.py", plugin("0.3.0", "beta"))
    write(tmp_path / "plugins" / "broken" / "__plugin__.py", "x = 1\nraise RuntimeError('boom')\n")
    return tmp_path


def table(stdout: str) -> dict[str, list[str]]:
    """The rows of `botrt plugins list` by plugin name (columns split on 2+ spaces)."""
    lines = stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "FOLDER", "ENABLED", "FLOWS", "COMMANDS"]
    rows = {}
    for line in lines[1:]:
        cells = [c for c in line.split("  ") if c.strip()]
        rows[cells[0].strip()] = [c.strip() for c in cells[1:]]
    return rows


def checked(botrt: Runner, bot: Path) -> tuple[int, set[str]]:
    """`botrt check`'s exit status and the plugins it loaded."""
    out = botrt("check", cwd=bot)
    names = {line.split()[0] for line in out.stdout.splitlines() if not line.startswith("ok:")}
    return out.returncode, names


def test_list_shows_every_plugin_found(botrt: Runner, bot: Path) -> None:
    out = botrt("plugins", cwd=bot)
    assert out.returncode == 0, "an import error is reported, not fatal"
    assert table(out.stdout) == {
        "alpha": ["1.2.0", "plugins/alpha", "yes", "1", "alpha"],
        "beta": ["-", "more/beta", "no", "-", "-"],
        "broken": ["error", "plugins/broken", "yes", "-", "-"],
    }
    assert "broken/__plugin__.py:2" in out.stderr
    assert "RuntimeError: boom" in out.stderr
    assert botrt("plugins", "list", cwd=bot).stdout == out.stdout


def test_enable_and_disable_round_trip(botrt: Runner, bot: Path) -> None:
    original = tomllib.loads(BOT_TOML)
    assert checked(botrt, bot) == (1, {"alpha"}), "broken fails the check"

    out = botrt("plugins", "disable", "broken", cwd=bot)
    assert out.returncode == 0, out.stderr
    assert "'broken' disabled" in out.stdout
    assert checked(botrt, bot) == (0, {"alpha"})

    out = botrt("plugins", "enable", "beta", cwd=bot)
    assert out.returncode == 0, out.stderr
    assert "'beta' enabled" in out.stdout
    assert checked(botrt, bot) == (0, {"alpha", "beta"})

    text = (bot / "bot.toml").read_text("utf-8")
    data = tomllib.loads(text)
    assert data["plugins"].pop("disabled") == ["broken"]
    del original["plugins"]["disabled"]
    assert data == original, "every other setting is kept, ${VAR} as written"
    for comment in ("# my bot, hand-written", '# only "!"', "# both folders"):
        assert comment in text

    # From another folder, --config before or after the action.
    config = str(bot / "bot.toml")
    out = botrt("plugins", "--config", config, "disable", "beta", cwd=bot.parent)
    assert out.returncode == 0, out.stderr
    assert checked(botrt, bot) == (0, {"alpha"})
    out = botrt("plugins", "disable", "beta", "--config", config, cwd=bot.parent)
    assert out.returncode == 0
    assert "already disabled" in out.stdout
    rows = table(botrt("plugins", "list", "--config", config, cwd=bot.parent).stdout)
    assert rows["beta"][2] == "no"
    assert rows["broken"][:3] == ["-", "plugins/broken", "no"]


def test_unknown_plugin_is_refused(botrt: Runner, bot: Path) -> None:
    before = (bot / "bot.toml").read_bytes()
    out = botrt("plugins", "enable", "gamma", cwd=bot)
    assert out.returncode == 1
    assert "no plugin named 'gamma'" in out.stderr
    assert "known plugins: alpha, broken, beta" in out.stderr
    assert (bot / "bot.toml").read_bytes() == before


def test_a_missing_bot_toml_is_not_created(botrt: Runner, tmp_path: Path) -> None:
    write(tmp_path / "plugins" / "alpha" / "__plugin__.py", plugin("1.0.0", "alpha"))
    out = botrt("plugins", "disable", "alpha", cwd=tmp_path)
    assert out.returncode == 1
    assert "bot.toml does not exist" in out.stderr
    assert not (tmp_path / "bot.toml").exists()
