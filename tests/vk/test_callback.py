"""The Callback API application, fed by FakeVK's sender and by hand-made bad requests."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web
from vkhelpers import GROUP_ID, Collector, load_payload

from botrt.protocols.vk import (
    CallbackBot,
    MessageNew,
    VkApi,
    VkConfigError,
    create_callback_app,
    parse_update,
)
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio

SECRET = "s3cr3t-value"
BOT = CallbackBot(
    name="group1", group_id=GROUP_ID, path="/vk/group1", confirmation="a1b2c3", secret=SECRET
)
OPEN_BOT = CallbackBot(name="group2", group_id=202, path="/vk/group2", confirmation="zz")


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
def sink() -> Collector:
    return Collector()


@pytest.fixture
async def url(sink: Collector) -> AsyncIterator[str]:
    async with serve(create_callback_app([BOT, OPEN_BOT], sink)) as base:
        yield base


async def post(url: str, data: bytes | str, **headers: str) -> tuple[int, str]:
    raw = data.encode() if isinstance(data, str) else data
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=io.BytesIO(raw), headers=headers) as response,
    ):
        return response.status, await response.text()


async def test_confirmation_answers_the_string(vk: FakeVK, url: str) -> None:
    update = {"type": "confirmation", "group_id": GROUP_ID}
    (with_secret,) = await vk.deliver_callback(url + BOT.path, update, secret=SECRET)
    assert (with_secret.status, with_secret.text) == (200, "a1b2c3")
    # VK's docs do not say that confirmation carries the secret: one without
    # any secret is answered; one with a wrong secret is not.
    (bare,) = await vk.deliver_callback(url + BOT.path, update)
    assert (bare.status, bare.text) == (200, "a1b2c3")
    (wrong,) = await vk.deliver_callback(url + BOT.path, update, secret="nope")
    assert wrong.status == 403


async def test_real_confirmation_payload(vk: FakeVK, sink: Collector) -> None:
    body = load_payload("15_confirmation_with_secret_vksdk_test.json")
    bot = CallbackBot(
        name="b",
        group_id=body["group_id"],
        path="/cb",
        confirmation="ok-code",
        secret=body["secret"],
    )
    async with serve(create_callback_app([bot], sink)) as base:
        (answer,) = await vk.deliver_callback(base + "/cb", body)
    assert (answer.status, answer.text) == (200, "ok-code")
    assert sink.updates == []


async def test_event_with_right_secret_is_ok_and_handed_over_without_it(
    vk: FakeVK, url: str, sink: Collector
) -> None:
    update = vk.build_message(GROUP_ID, 5, "/help")
    (answer,) = await vk.deliver_callback(url + BOT.path, update, secret=SECRET)
    assert (answer.status, answer.text) == (200, "ok")
    await sink.wait_count(1)
    ((bot, received),) = sink.updates
    assert bot == "group1"
    assert "secret" not in received
    assert received["event_id"] == update["event_id"]


async def test_wrong_or_missing_secret_is_refused(vk: FakeVK, url: str, sink: Collector) -> None:
    update = vk.build_message(GROUP_ID, 5, "x")
    wrong = await vk.deliver_callback(url + BOT.path, update, secret="guess", retries=2)
    assert [(a.status, a.retry_counter) for a in wrong] == [(403, None), (403, 1), (403, 2)]
    (missing,) = await vk.deliver_callback(url + BOT.path, update)
    assert missing.status == 403
    (numeric,) = await vk.deliver_callback(url + BOT.path, {**update, "secret": 12345})
    assert numeric.status == 403
    assert sink.updates == []


async def test_bot_without_secret_accepts_any(vk: FakeVK, url: str, sink: Collector) -> None:
    update = {**vk.make_event(GROUP_ID, "group_join", {"user_id": 1}), "group_id": 202}
    (answer,) = await vk.deliver_callback(url + OPEN_BOT.path, update, secret="whatever")
    assert answer.text == "ok"
    await sink.wait_count(1)


async def test_wrong_or_missing_group_is_refused(vk: FakeVK, url: str, sink: Collector) -> None:
    update = vk.build_message(GROUP_ID, 5, "x")
    (other,) = await vk.deliver_callback(url + OPEN_BOT.path, update)
    assert other.status == 403
    no_group = {k: v for k, v in update.items() if k != "group_id"}
    (missing,) = await vk.deliver_callback(url + BOT.path, no_group, secret=SECRET)
    assert missing.status == 400
    (junk,) = await vk.deliver_callback(url + BOT.path, {**update, "group_id": True})
    assert junk.status == 400
    assert sink.updates == []


async def test_duplicate_delivery_is_handled_once(vk: FakeVK, url: str, sink: Collector) -> None:
    update = vk.build_message(GROUP_ID, 5, "once")
    first = await vk.deliver_callback(url + BOT.path, update, secret=SECRET)
    retry = await vk.deliver_callback(url + BOT.path, update, secret=SECRET, retry_counter=1)
    assert [a.text for a in first + retry] == ["ok", "ok"]
    other = vk.build_message(GROUP_ID, 5, "other")
    await vk.deliver_callback(url + BOT.path, other, secret=SECRET)
    await sink.wait_count(2)
    assert sink.event_ids == [update["event_id"], other["event_id"]]


async def test_update_without_event_id_is_not_deduplicated(
    vk: FakeVK, url: str, sink: Collector
) -> None:
    old = load_payload("12_group_join_real.json")
    old = {**old, "group_id": GROUP_ID}
    for _ in range(2):
        (answer,) = await vk.deliver_callback(url + BOT.path, old, secret=SECRET)
        assert answer.text == "ok"
    await sink.wait_count(2)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"\xff\xfe\x00garbage", 400),
        (b"[1, 2]", 400),
        (b'"text"', 400),
        (b"", 400),
        (json.dumps({"group_id": GROUP_ID, "secret": SECRET, "object": {}}).encode(), 400),
        (json.dumps({"type": 5, "group_id": GROUP_ID}).encode(), 400),
        (json.dumps({"type": "message_new", "group_id": GROUP_ID, "secret": SECRET}), 400),
        (
            json.dumps(
                {"type": "message_new", "group_id": GROUP_ID, "secret": SECRET, "object": []}
            ),
            400,
        ),
    ],
)
async def test_malformed_requests_get_400(
    url: str, sink: Collector, body: bytes | str, status: int
) -> None:
    got, _ = await post(url + BOT.path, body, **{"Content-Type": "application/json"})
    assert got == status
    assert sink.updates == []


async def test_oversized_bodies_get_413(url: str, sink: Collector) -> None:
    big = json.dumps({"type": "x", "group_id": GROUP_ID, "object": {"t": "a" * (1 << 20)}})
    status, _ = await post(url + BOT.path, big)
    assert status == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * (64 * 1024)

    async with (
        aiohttp.ClientSession() as session,
        session.post(url + BOT.path, data=chunks()) as response,
    ):
        assert response.status == 413  # chunked: no Content-Length to trust
    assert sink.updates == []


async def test_other_methods_and_paths_are_4xx(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(url + BOT.path) as response:
            assert response.status == 405
        async with session.post(url + "/vk/unknown", data=b"{}") as response:
            assert response.status == 404


async def test_failing_sink_still_answers_ok(vk: FakeVK, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(bot: str, update: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    async with serve(create_callback_app([BOT], broken)) as base:
        update = vk.build_message(GROUP_ID, 5, "x")
        (answer,) = await vk.deliver_callback(base + BOT.path, update, secret=SECRET)
    assert answer.text == "ok"
    assert "handler bug" in caplog.text


async def test_healthz(vk: FakeVK) -> None:
    status: dict[str, bool] = {"group1": True, "lp-bot": False}

    def health() -> Mapping[str, bool]:
        return status

    async with (
        serve(create_callback_app([BOT], Collector(), health=health)) as base,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(base + "/healthz") as response:
            assert response.status == 503
            assert await response.json() == {
                "ok": False,
                "bots": {"group1": True, "lp-bot": False},
                "pending": 0,
            }
        status["lp-bot"] = True
        async with session.get(base + "/healthz") as response:
            assert response.status == 200
            assert (await response.json())["ok"] is True
    async with (
        serve(create_callback_app([BOT], Collector())) as base,
        aiohttp.ClientSession() as session,
        session.get(base + "/healthz") as response,
    ):
        assert response.status == 200
        assert (await response.json())["bots"] == {"group1": True}


async def test_healthz_with_a_broken_health_check_is_503() -> None:
    def broken() -> Mapping[str, bool]:
        raise RuntimeError("boom")

    async with (
        serve(create_callback_app([BOT], Collector(), health=broken)) as base,
        aiohttp.ClientSession() as session,
        session.get(base + "/healthz") as response,
    ):
        assert response.status == 503


async def test_mounted_as_a_subapp_keeps_its_limits(vk: FakeVK, sink: Collector) -> None:
    root = web.Application(client_max_size=64 << 20)
    root.add_subapp("/hooks", create_callback_app([BOT], sink))
    async with serve(root) as base:
        update = vk.build_message(GROUP_ID, 5, "mounted")
        (answer,) = await vk.deliver_callback(base + "/hooks" + BOT.path, update, secret=SECRET)
        assert answer.text == "ok"
        await sink.wait_count(1)
        big = json.dumps({"type": "x", "group_id": GROUP_ID, "object": {"t": "a" * (2 << 20)}})
        status, _ = await post(base + "/hooks" + BOT.path, big)
        assert status == 413


async def test_cleanup_waits_for_hand_overs_then_cancels(vk: FakeVK) -> None:
    started = anyio.Event()
    release = anyio.Event()
    finished: list[str] = []

    async def slow(bot: str, update: dict[str, Any]) -> None:
        started.set()
        await release.wait()
        finished.append(update["event_id"])

    async def let_go() -> None:
        release.set()

    app = create_callback_app([BOT], slow, shutdown_timeout=5)
    update = vk.build_message(GROUP_ID, 5, "x")
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            async with serve(app) as base:
                await vk.deliver_callback(base + BOT.path, update, secret=SECRET)
                await started.wait()
                tg.start_soon(let_go)  # runs while the cleanup waits for the hand-over
            assert finished == [update["event_id"]]

    stuck_started = anyio.Event()
    cancelled: list[bool] = []

    async def stuck(bot: str, update: dict[str, Any]) -> None:
        stuck_started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.append(True)

    app = create_callback_app([BOT], stuck, shutdown_timeout=0.05)
    with anyio.fail_after(30):
        async with serve(app) as base:
            await vk.deliver_callback(base + BOT.path, update, secret=SECRET)
            await stuck_started.wait()
    assert cancelled == [True]


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(VkConfigError, match="distinct"):
        create_callback_app([BOT, BOT], Collector())
    with pytest.raises(VkConfigError, match="start with"):
        CallbackBot(name="b", group_id=1, path="vk", confirmation="c")
    with pytest.raises(VkConfigError, match="group_id"):
        CallbackBot(name="b", group_id=0, path="/vk", confirmation="c")
    with pytest.raises(VkConfigError, match="confirmation"):
        CallbackBot(name="b", group_id=1, path="/vk", confirmation="")
    assert SECRET not in repr(BOT)


async def test_callback_to_reply_end_to_end(vk: FakeVK, api: VkApi) -> None:
    async def handle(bot: str, update: dict[str, Any]) -> None:
        event = parse_update(update, bot=bot, api=api)
        if isinstance(event, MessageNew) and event.text == "/ping":
            await event.reply("pong")

    async with serve(create_callback_app([BOT], handle)) as base:
        update = vk.build_message(GROUP_ID, 5, f"[club{GROUP_ID}|@bot] /ping", peer_id=2_000_000_1)
        await vk.deliver_callback(base + BOT.path, update, secret=SECRET)
        with anyio.fail_after(30):
            await vk.wait_for(lambda: bool(vk.sent))
    assert [(m.peer_id, m.text) for m in vk.sent] == [(2_000_000_1, "pong")]
