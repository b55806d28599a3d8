"""The `botrt` console script, run as a real subprocess."""

from __future__ import annotations

import shutil
import subprocess

import botrt


def test_version() -> None:
    exe = shutil.which("botrt")
    assert exe, "the console script is installed"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"botrt {botrt.__version__}"
