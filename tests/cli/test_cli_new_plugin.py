"""`botrt new-plugin`: a scaffold that checks and whose test passes; refusals."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Runner = Callable[..., subprocess.CompletedProcess[str]]

BOT_TOML = """\
[plugins]
dirs = ["bot/plugins", "other"]
builtin = false
"""


def test_new_plugin_goes_into_the_first_plugin_dir(
    botrt: Runner, project_tests: Callable[[Path], subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    (tmp_path / "bot.toml").write_text(BOT_TOML, encoding="utf-8")
    (tmp_path / "other").mkdir()  # `check` refuses a dirs folder that does not exist
    out = botrt("new-plugin", "quiz-bot", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    plugin = tmp_path / "bot" / "plugins" / "quiz-bot" / "__plugin__.py"
    test = tmp_path / "bot" / "tests" / "test_quiz_bot.py"
    conftest = tmp_path / "bot" / "tests" / "conftest.py"
    for path in (plugin, test, conftest):
        assert path.is_file()
        assert f"created {path.relative_to(tmp_path)}" in out.stdout
    catalog = plugin.parent / "locales" / "ru" / "LC_MESSAGES" / "messages.po"
    assert f"created {catalog.relative_to(tmp_path)}" in out.stdout
    inside = sorted(p.relative_to(plugin.parent).as_posix() for p in plugin.parent.rglob("*.*"))
    assert inside == ["__plugin__.py", "locales/ru/LC_MESSAGES/messages.po"], "tests stay outside"
    assert "auto_import" in plugin.read_text("utf-8")

    check = botrt("check", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "quiz-bot 0.1.0: 1 flow, 1 node, commands: quiz-bot" in check.stdout

    tests = project_tests(tmp_path)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout  # one of them in Russian, from the scaffolded catalog


def test_check_warns_about_texts_a_catalog_of_the_bots_language_lacks(
    botrt: Runner, tmp_path: Path
) -> None:
    (tmp_path / "bot.toml").write_text(BOT_TOML + '[bot]\nlanguage = "ru"\n', encoding="utf-8")
    (tmp_path / "other").mkdir()
    assert botrt("new-plugin", "quiz", cwd=tmp_path).returncode == 0
    check = botrt("check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "warning" not in check.stderr  # the scaffolded catalog translates every text
    plugin = tmp_path / "bot" / "plugins" / "quiz" / "__plugin__.py"
    source = plugin.read_text("utf-8").replace('_("ready")', '_("all set")')
    plugin.write_text(source, encoding="utf-8")
    check = botrt("check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    (warning,) = [line for line in check.stderr.splitlines() if line.startswith("warning")]
    assert f"{plugin}:" in warning
    assert "no ru translation of 'all set'" in warning


def test_dir_option_and_an_existing_conftest(
    botrt: Runner, project_tests: Callable[[Path], subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    (tmp_path / "tests").mkdir()
    own = '"""Mine."""\n\nimport pytest\n\n\n@pytest.fixture\ndef anyio_backend() -> str:\n'
    own += '    return "asyncio"\n'
    (tmp_path / "tests" / "conftest.py").write_text(own, encoding="utf-8")
    out = botrt("new-plugin", "class", "--dir", "src", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "src" / "class" / "__plugin__.py").is_file()
    assert (tmp_path / "tests" / "test_class_.py").is_file(), "a keyword gets a trailing _"
    assert (tmp_path / "tests" / "conftest.py").read_text("utf-8") == own
    assert "note" not in out.stdout

    tests = project_tests(tmp_path)
    assert tests.returncode == 0, tests.stdout + tests.stderr


@pytest.mark.parametrize("name", ["Weather", "1st", "_x", "a b", "../up", "", "é"])
def test_bad_names_are_refused(botrt: Runner, tmp_path: Path, name: str) -> None:
    out = botrt("new-plugin", name, cwd=tmp_path)
    assert out.returncode == 1
    assert "not a valid plugin name" in out.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_refused(botrt: Runner, tmp_path: Path) -> None:
    (tmp_path / "plugins" / "weather").mkdir(parents=True)
    out = botrt("new-plugin", "weather", cwd=tmp_path)
    assert out.returncode == 1
    assert "plugins/weather already exists" in out.stderr
    assert list((tmp_path / "plugins" / "weather").iterdir()) == []
    assert not (tmp_path / "tests").exists()


def test_a_built_in_plugin_s_name_is_refused(botrt: Runner, tmp_path: Path) -> None:
    out = botrt("new-plugin", "help", cwd=tmp_path)
    assert out.returncode == 1
    assert "'help' is the name of a built-in plugin" in out.stderr
    assert "the built-in help is no longer loaded and the new plugin runs in its place" in (
        out.stderr
    )
    assert "--force" in out.stderr
    assert not (tmp_path / "plugins").exists(), "nothing was written"


def test_force_replaces_a_built_in_plugin_and_says_so(botrt: Runner, tmp_path: Path) -> None:
    out = botrt("new-plugin", "help", "--force", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "plugins" / "help" / "__plugin__.py").is_file()
    assert "note: it replaces the built-in plugin help" in out.stdout


def test_a_built_in_name_is_free_when_built_ins_are_off(botrt: Runner, tmp_path: Path) -> None:
    (tmp_path / "bot.toml").write_text("[plugins]\nbuiltin = false\n", encoding="utf-8")
    out = botrt("new-plugin", "help", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "replaces" not in out.stdout
