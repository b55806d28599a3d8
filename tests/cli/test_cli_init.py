"""`botrt init`: a project that checks and whose own tests pass; never overwrites."""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

Runner = Callable[..., subprocess.CompletedProcess[str]]

FILES = [
    "bot.toml",
    "plugins/hello/__plugin__.py",
    "tests/conftest.py",
    "tests/test_hello.py",
    "pytest.ini",
    "README.md",
]


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_init_makes_a_project_that_checks_and_tests(
    botrt: Runner, project_tests: Callable[[Path], subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    out = botrt("init", "my bot", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    root = tmp_path / "my bot"
    assert sorted(snapshot(root)) == sorted(FILES)

    config = tomllib.loads((root / "bot.toml").read_text("utf-8"))
    assert config["bot"]["name"] == "my bot"
    assert config["plugins"]["dirs"] == ["plugins"]
    assert config["plugins"]["builtin"] is True
    assert config["storage"]["url"].startswith("sqlite:///")
    assert config["console"]["enabled"] == "auto"
    readme = (root / "README.md").read_text("utf-8")
    assert "botrt serve" in readme
    assert "python -m pytest tests -q" in readme

    check = botrt("check", cwd=root)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "hello 0.1.0" in check.stdout

    tests = project_tests(root)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout


def test_init_never_overwrites(botrt: Runner, tmp_path: Path) -> None:
    assert botrt("init", cwd=tmp_path).returncode == 0
    (tmp_path / "bot.toml").write_text("# mine\n", encoding="utf-8")
    before = snapshot(tmp_path)

    out = botrt("init", cwd=tmp_path)
    assert out.returncode == 1
    assert "refusing to overwrite" in out.stderr
    assert "bot.toml" in out.stderr
    assert snapshot(tmp_path) == before


def test_one_existing_file_means_nothing_is_written(botrt: Runner, tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# my notes\n", encoding="utf-8")
    out = botrt("init", cwd=tmp_path)
    assert out.returncode == 1
    assert "README.md" in out.stderr
    assert "bot.toml" not in out.stderr
    assert sorted(snapshot(tmp_path)) == ["README.md"]
