"""The wheel ships what users need: type information and the built-in plugins."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_is_typed_and_carries_the_built_in_plugins(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("botrt-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    # PEP 561: type checkers read botrt's annotations only when py.typed is installed.
    assert "botrt/py.typed" in names
    assert "botrt/_builtin_plugins/help/__plugin__.py" in names
    # Catalogs are read as .po files at load time: they must ship, no .mo needed.
    assert "botrt/_builtin_plugins/help/locales/ru/LC_MESSAGES/messages.po" in names
    assert "botrt/i18n/locales/ru/LC_MESSAGES/botrt.po" in names
