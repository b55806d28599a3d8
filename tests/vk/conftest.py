"""Fixtures for the VK platform tests: a FakeVK, a client for it, a scripted server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from vkhelpers import GROUP_ID, TOKEN, ScriptedVK

from botrt.protocols.vk import VkApi
from botrt.testing._fakevk import FakeVK


@pytest.fixture
async def vk() -> AsyncIterator[FakeVK]:
    async with FakeVK(longpoll_wait_cap=0.5) as fake:
        fake.add_group(GROUP_ID, token=TOKEN, members=range(1, 11), managers={1: "creator"})
        yield fake


@pytest.fixture
async def api(vk: FakeVK) -> AsyncIterator[VkApi]:
    async with VkApi(TOKEN, api_url=vk.api_url, retry_delay=0.01, max_retry_delay=0.05) as client:
        yield client


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedVK]:
    async with ScriptedVK() as server:
        yield server
