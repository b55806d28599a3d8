"""Fixtures for the storage tests: every test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from botrt.storage import Storage

# Re-exported so this folder runs on its own; harmless once the root conftest registers
# the plugin, since the server lives in the config's stash and is started once.
from botrt.testing._pytest_storage import postgres_server, postgres_url, storage_url

__all__ = ["postgres_server", "postgres_url", "storage_url"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def storage(storage_url: str) -> AsyncIterator[Storage]:
    opened = await Storage.open(storage_url)
    try:
        yield opened
    finally:
        await opened.close()
