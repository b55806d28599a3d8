"""Shared test configuration."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytest_plugins = ["botrt.testing._pytest_storage"]


def pytest_configure(config: pytest.Config) -> None:
    # The README runs `.venv/bin/python -m pytest` without activating the venv:
    # put its bin folder first so tests that run the `botrt` script find this one.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
