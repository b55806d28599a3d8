"""Durable delivery for VK (issue 16 items 1 and 2): FakeVK on loopback, real hosts in turn
on one SQLite file, each a "restart" of the bot.

- Long Poll resumes from the stored `ts`: what was sent while the bot was down is handled.
- `failed: 1` after a long stop is logged with how long the bot was away.
- A Callback update is recorded before `ok`; its retry after a restart is not handled again.
- What a crash left recorded and unhandled is handled at the next start, with replies
  whose `random_id` is derived from the update, so VK drops the copies.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from botrt.config import parse_config
from botrt.host import Host
from botrt.protocols.vk._durable import ReplyApi, encode, update_key
from botrt.storage import Storage
from botrt.storage._internal import Inbox
from botrt.testing._fakevk import FakeVK
from botrt.testing._ports import free_port

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
POLLED, HOOKED = 10, 20
USER = 5


def config_for(vk: FakeVK, tmp_path: Path) -> Any:
    return parse_config(
        {
            "plugins": {"dirs": [str(ROOT / "examples")], "enabled": ["echo"], "builtin": False},
            "storage": {"url": f"sqlite:///{tmp_path / 'bot.db'}"},
            "server": {"host": "127.0.0.1", "port": free_port()},
            "bots": [
                {"name": "poller", "platform": "vk", "api_url": vk.api_url, "token": "token-a"}
                | {"group_id": POLLED},
                {"name": "hooked", "platform": "vk", "api_url": vk.api_url, "token": "token-b"}
                | {"group_id": HOOKED, "transport": "callback", "path": "/vk/hooked"}
                | {"secret": "s3cret", "confirmation": "abc"},
            ],
        },
        base_dir=tmp_path,
    )


@pytest.fixture
async def vk() -> AsyncIterator[FakeVK]:
    async with FakeVK(longpoll_wait_cap=0.5) as fake:
        fake.add_group(POLLED, token="token-a", members=[USER])
        fake.add_group(HOOKED, token="token-b", members=[USER])
        yield fake


@asynccontextmanager
async def serving(config: Any, vk: FakeVK) -> AsyncIterator[Host]:
    """A host running until the block ends, once it polls and its server listens."""
    host = Host(config)
    assert not await host.start()
    polls = vk.calls["groups.getLongPollServer"]
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: host.serve(signals=False))
            with anyio.fail_after(10):
                await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] > polls)
                while host.web.runner is None:
                    await anyio.lowlevel.checkpoint()
                # Like VK, FakeVK only delivers what follows the first `a_check`.
                requests = vk.longpoll_requests
                await vk.wait_for(lambda: vk.longpoll_requests > requests)
            yield host
            host.request_stop()
    finally:
        await host.stop()


def texts(vk: FakeVK, group: int) -> list[str]:
    return [m.text for m in vk.sent if m.group_id == group]


async def wait_texts(vk: FakeVK, group: int, count: int) -> list[str]:
    with anyio.fail_after(10):
        await vk.wait_for(lambda: len(texts(vk, group)) >= count)
    return texts(vk, group)


def hook_url(host: Host) -> str:
    return f"http://127.0.0.1:{host.web.port}/vk/hooked"


async def test_long_poll_resumes_where_the_last_process_stopped(vk: FakeVK, tmp_path: Path) -> None:
    config = config_for(vk, tmp_path)
    async with serving(config, vk):
        vk.push_message(POLLED, USER, "/echo one")
        assert await wait_texts(vk, POLLED, 1) == ["one"]
    # Sent while no bot runs: VK keeps them, and the next start must ask from where
    # the last process stopped, not from the server's current `ts`.
    vk.push_message(POLLED, USER, "/echo two")
    vk.push_message(POLLED, USER, "/echo three")
    async with serving(config, vk):
        assert await wait_texts(vk, POLLED, 3) == ["one", "two", "three"]
        vk.push_message(POLLED, USER, "/echo four")
        assert await wait_texts(vk, POLLED, 4) == ["one", "two", "three", "four"]


async def test_a_batch_vk_sends_again_is_recognised_and_not_handled_twice(
    vk: FakeVK, tmp_path: Path
) -> None:
    config = config_for(vk, tmp_path)
    async with serving(config, vk):
        vk.push_message(POLLED, USER, "/echo one")
        vk.push_message(POLLED, USER, "/echo two")
        assert await wait_texts(vk, POLLED, 2) == ["one", "two"]
    # As if the process had died after handling them but before storing its `ts`:
    # VK sends the same updates again from the older position.
    with sqlite3.connect(tmp_path / "bot.db") as db:
        db.execute("UPDATE botrt_cursor SET position = '1' WHERE bot = 'poller'")
    async with serving(config, vk):
        vk.push_message(POLLED, USER, "/echo three")
        assert await wait_texts(vk, POLLED, 3) == ["one", "two", "three"]
    assert sum(1 for m in vk.sent if m.text in ("one", "two")) == 2


async def test_failed_1_after_a_long_stop_says_how_long_the_bot_was_away(
    vk: FakeVK, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = config_for(vk, tmp_path)
    async with serving(config, vk):
        vk.push_message(POLLED, USER, "/echo one")
        await wait_texts(vk, POLLED, 1)
    # Stored five hours ago, at a position VK's history no longer reaches (FakeVK
    # answers `failed: 1` to a `ts` it cannot read, as VK does to one too old).
    with sqlite3.connect(tmp_path / "bot.db") as db:
        db.execute(
            "UPDATE botrt_cursor SET position = 'gone', updated_at = ?",
            (time.time() - 5 * 3600,),
        )
    with caplog.at_level(logging.INFO, logger="botrt.vk.longpoll"):
        async with serving(config, vk):
            vk.push_message(POLLED, USER, "/echo two")
            assert await wait_texts(vk, POLLED, 2) == ["one", "two"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("resuming Long Poll from the stored ts" in m for m in messages)
    (lost,) = [m for m in messages if "failed 1" in m]
    assert "away about 5.0 h" in lost
    assert "sent meanwhile are lost" in lost


async def test_a_callback_retry_after_a_restart_is_not_handled_again(
    vk: FakeVK, tmp_path: Path
) -> None:
    config = config_for(vk, tmp_path)
    update = vk.build_message(HOOKED, USER, "/echo hooked")
    async with serving(config, vk) as host:
        (answer,) = await vk.deliver_callback(hook_url(host), update, secret="s3cret")
        assert answer.text == "ok"
        assert await wait_texts(vk, HOOKED, 1) == ["hooked"]
    async with serving(config, vk) as host:
        (answer,) = await vk.deliver_callback(
            hook_url(host), update, secret="s3cret", retry_counter=3
        )
        assert answer.text == "ok"
        other = vk.build_message(HOOKED, USER, "/echo after")
        await vk.deliver_callback(hook_url(host), other, secret="s3cret")
        assert await wait_texts(vk, HOOKED, 2) == ["hooked", "after"]


async def test_the_callback_update_is_in_the_storage_before_ok_and_without_its_secret(
    vk: FakeVK, tmp_path: Path
) -> None:
    config = config_for(vk, tmp_path)
    vk.hold("messages.send")  # handling cannot finish: only the record can be there
    update = vk.build_message(HOOKED, USER, "/echo held")
    async with serving(config, vk) as host:
        (answer,) = await vk.deliver_callback(hook_url(host), update, secret="s3cret")
        assert answer.text == "ok"
        with sqlite3.connect(tmp_path / "bot.db") as db:
            rows = db.execute("SELECT bot, event_id, body, handled_at FROM botrt_inbox").fetchall()
        assert [(bot, key, handled) for bot, key, _, handled in rows] == [
            ("hooked", update["event_id"], None)
        ]
        assert "s3cret" not in rows[0][2]
        vk.release("messages.send")
        assert await wait_texts(vk, HOOKED, 1) == ["held"]


async def test_what_a_crash_left_unhandled_is_handled_at_the_next_start_once(
    vk: FakeVK, tmp_path: Path
) -> None:
    config = config_for(vk, tmp_path)
    async with serving(config, vk):
        vk.push_message(POLLED, USER, "/echo before")
        await wait_texts(vk, POLLED, 1)
    polled = vk.build_message(POLLED, USER, "/echo polled")
    hooked = vk.build_message(HOOKED, USER, "/echo hooked")
    # The crash: both were recorded (the Long Poll batch with its `ts`, the Callback
    # update before its `ok`), then the process died before handling them.
    storage = await Storage.open(f"sqlite:///{tmp_path / 'bot.db'}")
    try:
        inbox = Inbox(storage, now=time.time)
        (stored_ts, _) = await inbox.position("poller") or ("", 0.0)
        assert await inbox.record("poller", [(update_key(polled), encode(polled))], stored_ts)
        assert await inbox.accept("hooked", update_key(hooked), encode(hooked))
        await inbox.close()
    finally:
        await storage.close()
    async with serving(config, vk):
        assert await wait_texts(vk, POLLED, 2) == ["before", "polled"]
        assert await wait_texts(vk, HOOKED, 1) == ["hooked"]
    with sqlite3.connect(tmp_path / "bot.db") as db:
        assert (
            db.execute("SELECT count(*) FROM botrt_inbox WHERE handled_at IS NULL").fetchone()[0]
            == 0
        )
    async with serving(config, vk):
        vk.push_message(POLLED, USER, "/echo later")
        assert await wait_texts(vk, POLLED, 3) == ["before", "polled", "later"]
    assert texts(vk, HOOKED) == ["hooked"]


async def test_an_update_handled_again_replies_with_the_same_random_ids(vk: FakeVK) -> None:
    from botrt.protocols.vk import VkApi

    async with VkApi("token-a", api_url=vk.api_url) as api:
        for _ in range(2):  # the update handled, then handled again after a crash
            replies = ReplyApi(api, "poller", "event-1")
            await replies.call("messages.send", peer_id=USER, message="first")
            await replies.call("messages.send", peer_id=USER, message="second")
        other = ReplyApi(api, "poller", "event-2")
        await other.call("messages.send", peer_id=USER, message="first")
    assert [m.text for m in vk.sent] == ["first", "second", "first"]
    assert len({m.random_id for m in vk.sent}) == 3


async def test_a_reply_through_the_event_keeps_the_derived_random_ids(vk: FakeVK) -> None:
    # `MessageNew.reply`'s short way (one piece, no options) numbers its sends as
    # `ReplyApi.call` does, and derives the same ids as before it had one: an update
    # accepted by the previous version and redelivered to this one keeps its ids.
    from botrt.protocols.vk import VkApi
    from botrt.protocols.vk._outbound import job_random_id
    from botrt.protocols.vk._parse import parse_update

    update = {
        "type": "message_new",
        "group_id": HOOKED,
        "event_id": "event-1",
        "object": {"message": {"id": 1, "from_id": USER, "peer_id": USER, "text": "/x"}},
    }
    async with VkApi("token-a", api_url=vk.api_url) as api:
        for _ in range(2):  # the update handled, then handled again after a crash
            replies = ReplyApi(api, "hooked", update_key(update))
            event = parse_update(update, bot="hooked", api=replies)  # type: ignore[arg-type]
            await event.reply("first")  # type: ignore[attr-defined]
            await replies.call("messages.send", peer_id=USER, message="second")
            await event.reply("third")  # type: ignore[attr-defined]
    key = "reply:hooked:event-1"
    expected = [job_random_id(key, n) for n in range(3)]
    # The second handling's copies carry the same ids: VK (FakeVK) drops them.
    assert [m.text for m in vk.sent] == ["first", "second", "third"]
    assert [m.random_id for m in vk.sent] == expected
