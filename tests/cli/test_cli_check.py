"""`botrt check` (and `serve`) refuse a broken setup, naming the file, the key or the folder."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

Runner = Callable[..., subprocess.CompletedProcess[str]]

HELLO = """
from botrt import PluginPlanner
from botrt.handle import on_command

PLUGIN = PluginPlanner(version="1.0.0")


@PLUGIN.use
@on_command("hello")
async def hello() -> None:
    pass
"""

# A plugin declaring its settings; `count` must be at least 1 (its own check).
TYPED = """
from dataclasses import dataclass
from typing import Literal

from botrt import PluginPlanner


@dataclass(frozen=True)
class Settings:
    lessons: list[str]
    count: int = 1
    mode: Literal["fast", "slow"] = "fast"

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"count must be at least 1, got {self.count}")


PLUGIN = PluginPlanner(version="1.0.0", settings=Settings)
"""


def project(tmp_path: Path, toml: str, **plugins: str) -> Path:
    """A bot folder: ``bot.toml`` (built-ins off unless it says so) and `plugins` by name."""
    for name, source in plugins.items():
        folder = tmp_path / "plugins" / name
        folder.mkdir(parents=True)
        (folder / "__plugin__.py").write_text(textwrap.dedent(source), encoding="utf-8")
    (tmp_path / "plugins").mkdir(exist_ok=True)
    text = textwrap.dedent(toml)
    if "builtin" not in text:
        text = text.replace("[plugins]", "[plugins]\nbuiltin = false", 1)
    (tmp_path / "bot.toml").write_text(text, encoding="utf-8")
    return tmp_path


def errors_of(out: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines of the error list on standard error."""
    lines = out.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith(("error:", "errors:")))
    return [line.strip() for line in lines[start + 1 :] if line.startswith("  ")]


def test_an_unknown_enabled_plugin_is_an_error_with_a_suggestion(
    botrt: Runner, tmp_path: Path
) -> None:
    bot = project(tmp_path, '[plugins]\nenabled = ["helo"]\n', hello=HELLO)
    out = botrt("check", cwd=bot)
    assert out.returncode == 1
    assert errors_of(out) == [
        'bot.toml: plugins.enabled[0]: no plugin named "helo" (did you mean "hello"?); '
        "the plugins found are: hello"
    ]
    assert "ok:" not in out.stdout


def test_settings_of_a_plugin_that_does_not_exist_are_an_error(
    botrt: Runner, tmp_path: Path
) -> None:
    bot = project(tmp_path, "[plugins]\n\n[plugins.settings.helo]\ngreeting = 1\n", hello=HELLO)
    out = botrt("check", cwd=bot)
    assert out.returncode == 1
    assert errors_of(out) == [
        'bot.toml: plugins.settings.helo: no plugin named "helo" (did you mean "hello"?); '
        "the plugins found are: hello"
    ]


def test_a_dirs_folder_that_does_not_exist_is_an_error(botrt: Runner, tmp_path: Path) -> None:
    bot = project(tmp_path, '[plugins]\ndirs = ["plugins", "plugns"]\n', hello=HELLO)
    out = botrt("check", cwd=bot)
    assert out.returncode == 1
    assert errors_of(out) == [f"bot.toml: plugins.dirs[1]: no such folder: {bot / 'plugns'}"]


def test_the_default_plugins_folder_may_be_missing(botrt: Runner, tmp_path: Path) -> None:
    # No bot.toml at all: the defaults, built-in plugins only, are a valid bot.
    out = botrt("check", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "help 1.0.0" in out.stdout


def test_folders_and_files_that_are_not_plugins_are_named(botrt: Runner, tmp_path: Path) -> None:
    bot = project(tmp_path, "[plugins]\n", hello=HELLO)
    (bot / "plugins" / "notes").mkdir()
    (bot / "plugins" / "weather.py").write_text(HELLO, encoding="utf-8")
    (bot / "plugins" / "README.md").write_text("about these plugins\n", encoding="utf-8")
    (bot / "plugins" / "__pycache__").mkdir()
    out = botrt("check", cwd=bot)
    assert out.returncode == 0, out.stderr
    warnings = [line for line in out.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {bot / 'plugins' / 'notes'}: no __plugin__.py in this folder, "
        "so it is not a plugin (skipped)",
        f"warning: {bot / 'plugins' / 'weather.py'}: a plugin is a folder holding __plugin__.py, "
        f"so this file is skipped (move it to {bot / 'plugins' / 'weather'}/__plugin__.py)",
    ]


@pytest.mark.parametrize("command", ["check", "serve"])
def test_an_explicit_config_that_does_not_exist_is_an_error(
    botrt: Runner, tmp_path: Path, command: str
) -> None:
    out = botrt(command, "--config", "nope.toml", cwd=tmp_path)
    assert out.returncode == 1
    assert "nope.toml: no such file" in out.stderr
    assert out.stdout == ""


def test_a_setting_of_the_wrong_type_names_its_key(botrt: Runner, tmp_path: Path) -> None:
    bot = project(tmp_path, "[plugins]\n\n[plugins.settings.typed]\nlessons = 5\n", typed=TYPED)
    out = botrt("check", cwd=bot)
    assert out.returncode == 1
    assert errors_of(out) == [
        "bot.toml: plugins.settings.typed.lessons: expected an array of strings, got 5 (an integer)"
    ]


def test_every_settings_problem_is_listed_at_once(botrt: Runner, tmp_path: Path) -> None:
    bot = project(
        tmp_path,
        """
        [plugins]
        enabled = ["typed", "helo"]

        [plugins.settings.typed]
        lesons = ["math"]
        count = true
        mode = "quick"
        """,
        typed=TYPED,
        hello=HELLO,
    )
    out = botrt("check", cwd=bot)
    assert out.returncode == 1
    assert errors_of(out) == [
        'bot.toml: plugins.enabled[1]: no plugin named "helo" (did you mean "hello"?); '
        "the plugins found are: hello, typed",
        "bot.toml: plugins.settings.typed.lessons: missing required key",
        "bot.toml: plugins.settings.typed.count: expected an integer, got true (a boolean)",
        'bot.toml: plugins.settings.typed.mode: expected "fast" or "slow", got "quick"',
        'bot.toml: plugins.settings.typed.lesons: unknown key (did you mean "lessons"?)',
    ]
    assert "5 errors:" in out.stderr


def test_a_plugin_s_own_check_of_its_settings_is_reported(botrt: Runner, tmp_path: Path) -> None:
    toml = '[plugins]\n\n[plugins.settings.typed]\nlessons = ["math"]\ncount = 0\n'
    out = botrt("check", cwd=project(tmp_path, toml, typed=TYPED))
    assert out.returncode == 1
    assert errors_of(out) == ["bot.toml: plugins.settings.typed: count must be at least 1, got 0"]


def test_valid_declared_settings_pass(botrt: Runner, tmp_path: Path) -> None:
    toml = '[plugins]\n\n[plugins.settings.typed]\nlessons = ["math"]\ncount = 3\n'
    out = botrt("check", cwd=project(tmp_path, toml, typed=TYPED))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["typed 1.0.0: 0 flows, 0 nodes, commands: -", "ok: 1 plugin"]


def test_settings_of_a_plugin_that_declares_none_are_a_warning(
    botrt: Runner, tmp_path: Path
) -> None:
    bot = project(tmp_path, "[plugins]\n\n[plugins.settings.hello]\ngreeting = 1\n", hello=HELLO)
    out = botrt("check", cwd=bot)
    assert out.returncode == 0, out.stderr
    assert (
        "warning: plugins.settings.hello: plugin 'hello' declares no settings "
        "(PluginPlanner(settings=...)), so these keys are not checked: greeting"
    ) in out.stderr


def test_counts_are_singular_for_one(botrt: Runner, tmp_path: Path) -> None:
    out = botrt("check", cwd=project(tmp_path, "[plugins]\n", hello=HELLO))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "hello 1.0.0: 1 flow, 1 node, commands: hello",
        "ok: 1 plugin",
    ]


def test_no_enabled_plugin_is_a_warning(botrt: Runner, tmp_path: Path) -> None:
    out = botrt("check", cwd=project(tmp_path, "[plugins]\nenabled = []\n", hello=HELLO))
    assert out.returncode == 0
    assert "warning: no plugin is enabled: the bot will answer nothing" in out.stderr
    assert "ok: 0 plugins" in out.stdout


# -- the built-in attendance plugin, as the issue saw it --------------------------


ATTENDANCE_LESSONS_5 = """
[plugins]
builtin = true
enabled = ["attendance"]

[plugins.settings.attendance]
lessons = 5
"""
LESSONS_5 = (
    "bot.toml: plugins.settings.attendance.lessons: expected an array of strings, "
    "got 5 (an integer)"
)


def test_check_refuses_attendance_with_lessons_5(botrt: Runner, tmp_path: Path) -> None:
    out = botrt("check", cwd=project(tmp_path, ATTENDANCE_LESSONS_5))
    assert out.returncode == 1
    assert errors_of(out) == [LESSONS_5]


def test_serve_refuses_attendance_with_lessons_5_in_the_same_words(
    botrt: Runner, tmp_path: Path
) -> None:
    bot = project(tmp_path, ATTENDANCE_LESSONS_5)
    out = botrt("serve", "--no-reload", cwd=bot)
    assert out.returncode == 1
    assert errors_of(out) == [LESSONS_5]
    assert "Traceback" not in out.stderr
    assert "_botrt_plugins" not in out.stderr
    assert not (bot / "botrt.db").exists(), "refused before opening anything"


def test_serve_refuses_an_unknown_enabled_plugin(botrt: Runner, tmp_path: Path) -> None:
    bot = project(tmp_path, '[plugins]\nenabled = ["helo"]\n', hello=HELLO)
    out = botrt("serve", "--no-reload", cwd=bot)
    assert out.returncode == 1
    assert errors_of(out)[0].startswith('bot.toml: plugins.enabled[0]: no plugin named "helo"')


def test_attendance_s_own_lesson_rules_are_checked(botrt: Runner, tmp_path: Path) -> None:
    toml = ATTENDANCE_LESSONS_5.replace("lessons = 5", 'lessons = ["math", "Math"]')
    out = botrt("check", cwd=project(tmp_path, toml))
    assert out.returncode == 1
    assert errors_of(out) == [
        "bot.toml: plugins.settings.attendance: lesson 'Math' is listed twice"
    ]


def test_a_toml_syntax_error_shows_the_line_and_a_hint(botrt: Runner, tmp_path: Path) -> None:
    (tmp_path / "bot.toml").write_text("[bot]\nname = my bot\n", encoding="utf-8")
    out = botrt("check", cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        "botrt: invalid configuration:",
        "bot.toml:2:8: Invalid value",
        "    name = my bot",
        "           ^",
        'hint: text needs quotes, as in name = "hello"',
    ]


def test_a_node_parameter_nothing_can_fill_is_an_error(botrt: Runner, tmp_path: Path) -> None:
    source = HELLO.replace(
        "async def hello() -> None:", "async def hello(db: dict) -> None:  # never injected"
    )
    bot = project(tmp_path, "[plugins]\n", hello=source)
    out = botrt("check", cwd=bot)
    assert out.returncode == 1
    (error,) = errors_of(out)
    assert error.startswith(f"{bot / 'plugins' / 'hello' / '__plugin__.py'}:")
    assert "node 'hello': parameter 'db' is annotated 'db: dict'" in error
