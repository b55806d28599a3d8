"""Helpers for the command-line tests: run the installed `botrt` script as a real process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Runner = Callable[..., subprocess.CompletedProcess[str]]


def _exe() -> str:
    # The venv's bin folder is on PATH when it is activated; otherwise it sits beside python.
    exe = shutil.which("botrt") or shutil.which("botrt", path=str(Path(sys.executable).parent))
    assert exe, "the botrt console script is installed"
    return exe


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # Options meant for the outer pytest must not leak into a generated project's run.
    env.pop("PYTEST_ADDOPTS", None)
    return env


@pytest.fixture
def botrt() -> Runner:
    """``botrt(*args, cwd=...)``: run the console script; returns the completed process."""
    exe = _exe()

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [exe, *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=_env()
        )

    return run


@pytest.fixture
def project_tests() -> Callable[[Path], subprocess.CompletedProcess[str]]:
    """``project_tests(folder)``: run a generated project's own tests the way its README says."""

    def run(folder: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:xdist", "-p", "no:cacheprovider", "-q"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=120,
            env=_env(),
        )

    return run
