"""The Callback route with the storage's inbox (issue 16 item 2): what the inbox keeps is
the request's body without the secret (cut out of the text, or encoded anew when a cut
is not certain), committed before ``ok``, and a retry is recognised after a restart.
Real aiohttp on loopback, a real SQLite file.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select
from test_callback import serve
from vkhelpers import GROUP_ID, Collector

from botrt.protocols.vk import CallbackBot, create_callback_app
from botrt.protocols.vk._durable import VkInbox
from botrt.storage import Storage
from botrt.storage._internal import Inbox

pytestmark = pytest.mark.anyio

SECRET = "s3cr3t-value"
BOT = CallbackBot(
    name="group1", group_id=GROUP_ID, path="/vk/group1", confirmation="a1b2c3", secret=SECRET
)
MESSAGE = (
    # Spaced and escaped as no encoder of ours writes it: a re-encoding would show.
    '{"message": {"text": "\\u043f\\u0440\\u0438", "from_id": 5, "peer_id": 5, "id": 1}}'
)


def body(event_id: str, *, secret_at: str = "middle", key: str = '"secret"') -> str:
    secret = f'{key}:"{SECRET}"'
    head = f'"type":"message_new","group_id":{GROUP_ID},"event_id":"{event_id}"'
    tail = f'"v":"5.199","object":{MESSAGE}'
    parts = {
        "first": [secret, head, tail],
        "middle": [head, secret, tail],
        "last": [head, tail, secret],
    }[secret_at]
    return "{" + ",".join(parts) + "}"


@asynccontextmanager
async def route(db: Path, sink: Collector) -> AsyncIterator[tuple[str, Storage]]:
    storage = await Storage.open(f"sqlite:///{db}")
    journal = VkInbox(Inbox(storage, now=time.time))
    try:
        async with serve(create_callback_app([BOT], sink, journal=journal)) as base:
            yield base + BOT.path, storage
    finally:
        await journal.close()
        await storage.close()


async def post(session: aiohttp.ClientSession, url: str, text: str) -> tuple[int, str]:
    async with session.post(url, data=text.encode()) as response:
        return response.status, await response.text()


async def stored(storage: Storage) -> dict[str, str]:
    t = storage.core.inbox
    async with storage.transaction(write=False) as conn:
        rows = (await conn.execute(select(t.c.event_id, t.c.body))).all()
    return {str(k): str(b) for k, b in rows}


@pytest.mark.parametrize("secret_at", ["first", "middle", "last"])
async def test_the_stored_body_is_the_request_without_its_secret(
    tmp_path: Path, secret_at: str
) -> None:
    sink = Collector()
    sent = body("e1", secret_at=secret_at)
    async with route(tmp_path / "bot.db", sink) as (url, storage):
        async with aiohttp.ClientSession() as session:
            assert await post(session, url, sent) == (200, "ok")
        # Committed before `ok`: the row is there as soon as the answer is.
        kept = (await stored(storage))["e1"]
        await sink.wait_count(1)
    ((_, handed),) = sink.updates
    assert SECRET not in kept
    assert json.loads(kept) == handed
    expected = json.loads(sent)
    del expected["secret"]
    assert handed == expected
    # A cut, not a second encoding: the rest of the text is as VK wrote it.
    assert "\\u043f" in kept
    assert kept == sent.replace(f'"secret":"{SECRET}",', "").replace(f',"secret":"{SECRET}"', "")


async def test_a_body_that_cannot_be_cut_is_stored_encoded_without_its_secret(
    tmp_path: Path,
) -> None:
    sink = Collector()
    sent = body("e2", key='"\\u0073ecret"')  # the key spelled with an escape
    async with route(tmp_path / "bot.db", sink) as (url, storage):
        async with aiohttp.ClientSession() as session:
            assert await post(session, url, sent) == (200, "ok")
        kept = (await stored(storage))["e2"]
        await sink.wait_count(1)
    assert SECRET not in kept
    assert json.loads(kept) == sink.updates[0][1]


async def test_a_retry_after_a_restart_is_answered_ok_and_not_handed_on(tmp_path: Path) -> None:
    sent = body("e3")
    first = Collector()
    async with route(tmp_path / "bot.db", first) as (url, _):
        async with aiohttp.ClientSession() as session:
            assert await post(session, url, sent) == (200, "ok")
        await first.wait_count(1)
    again = Collector()
    async with route(tmp_path / "bot.db", again) as (url, storage):
        async with aiohttp.ClientSession() as session:
            assert await post(session, url, sent) == (200, "ok")
            assert await post(session, url, body("e4")) == (200, "ok")
        await again.wait_count(1)
        assert set(await stored(storage)) == {"e3", "e4"}
    assert again.event_ids == ["e4"]


async def test_a_body_with_a_utf8_bom_is_still_read_and_stored_without_its_secret(
    tmp_path: Path,
) -> None:
    sink = Collector()
    async with route(tmp_path / "bot.db", sink) as (url, storage):
        async with aiohttp.ClientSession() as session:
            raw = "\ufeff".encode() + body("e5").encode()
            async with session.post(url, data=raw) as response:
                assert (response.status, await response.text()) == (200, "ok")
        kept = (await stored(storage))["e5"]
        await sink.wait_count(1)
    assert SECRET not in kept
    assert json.loads(kept) == sink.updates[0][1]
