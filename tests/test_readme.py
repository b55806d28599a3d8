"""The README's commands work as written, and its test command is the one CI runs."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.+?)\n```", README, flags=re.DOTALL)


def readme_commands() -> list[str]:
    return readme_blocks("sh")


def first_plugin_section() -> str:
    start = README.index("## Your first plugin")
    return README[start : README.index("\n## ", start + 1)]


def test_readme_has_two_setup_commands() -> None:
    serve, test = readme_commands()[:2]
    assert serve.endswith("botrt serve")
    assert "pytest" in test


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test = readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test in ci


def _shell(script: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)  # the outer pytest's options are not the reader's
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def test_the_first_plugin_section_works_as_written(tmp_path: Path) -> None:
    # Where a reader runs it: inside the clone, whose pytest settings ask for xdist
    # (tests/conftest.py adds it now, but a project must not depend on what is above it).
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "-n auto --dist loadfile"\n', encoding="utf-8"
    )
    section = first_plugin_section()
    steps, plugin, test, run_tests = re.findall(r"```\w+\n(.+?)\n```", section, re.DOTALL)
    commands = [line.split("  #")[0].strip() for line in steps.splitlines()]
    # The venv is already first on PATH here (tests/conftest.py), as activation would do.
    assert commands[0] == ". .venv/bin/activate"
    assert commands[-1] == "botrt serve"
    assert commands[1] == "botrt init mybot && cd mybot"

    setup = _shell(" && ".join(commands[1:-1]), tmp_path)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert "ok: " in setup.stdout
    bot = tmp_path / "mybot"
    assert (bot / "plugins" / "greeter" / "__plugin__.py").is_file()
    assert not (ROOT / "plugins" / "greeter").exists(), "nothing lands in botrt's own plugins"

    (bot / "plugins" / "greeter" / "__plugin__.py").write_text(plugin + "\n", encoding="utf-8")
    (bot / "tests" / "test_greeter.py").write_text(test + "\n", encoding="utf-8")

    served = _shell("botrt serve --no-reload", bot, stdin="/greet Ann\n")
    assert served.returncode == 0, served.stderr
    assert served.stdout == "hello, Ann\n"

    tests = _shell(run_tests, bot)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout  # test_greet and the scaffold's hello tests
    # pytest without pytest-xdist, as after a plain `pip install pytest`.
    plain = _shell(run_tests + " -p no:xdist", bot)
    assert plain.returncode == 0, plain.stdout + plain.stderr


def test_the_repository_suite_runs_without_xdist() -> None:
    # `-n` in addopts would make pytest refuse to start without pytest-xdist.
    out = _shell("python -m pytest -p no:xdist --collect-only -q tests/test_readme.py", ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
