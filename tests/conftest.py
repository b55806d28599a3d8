"""Shared test configuration."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from botrt.storage import Storage

pytest_plugins = ["botrt.testing._pytest_storage"]


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    # Parallel by default where pytest-xdist is installed (the [test] extra): one file
    # per worker. Not in pyproject's addopts, where `-n` breaks pytest without xdist.
    # An explicit -n (-n 0 included) or --dist wins; workers never spawn workers.
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    if config.option.numprocesses is None and not config.option.usepdb:
        config.option.numprocesses = "auto"
    if config.option.numprocesses and config.option.dist == "no":
        config.option.dist = "loadfile"


def pytest_configure(config: pytest.Config) -> None:
    # The README runs `.venv/bin/python -m pytest` without activating the venv:
    # put its bin folder first so tests that run the `botrt` script find this one.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def storage(storage_url: str) -> AsyncIterator[Storage]:
    """An opened `Storage` on each engine (`storage_url`: SQLite and PostgreSQL)."""
    opened = await Storage.open(storage_url)
    try:
        yield opened
    finally:
        await opened.close()
