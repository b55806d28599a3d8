"""The callback route's hand-overs: background while few run, inline (backpressure) beyond."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import anyio
import pytest
from test_callback import BOT, SECRET, post, serve
from vkhelpers import GROUP_ID

from botrt.protocols.vk import create_callback_app
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio


async def test_beyond_max_handovers_a_request_hands_over_before_answering(vk: FakeVK) -> None:
    gate = anyio.Event()
    arrived: list[str] = []
    second_arrived = anyio.Event()
    delivered: list[str] = []
    answered: list[str] = []

    async def slow(bot: str, update: dict[str, Any]) -> None:
        arrived.append(update["event_id"])
        if len(arrived) == 2:
            second_arrived.set()
        await gate.wait()
        delivered.append(update["event_id"])

    first = vk.build_message(GROUP_ID, 5, "one")
    second = vk.build_message(GROUP_ID, 5, "two")
    app = create_callback_app([BOT], slow, max_handovers=1)
    with anyio.fail_after(10):
        async with serve(app) as base:
            (answer,) = await vk.deliver_callback(base + BOT.path, first, secret=SECRET)
            assert answer.text == "ok"  # answered while its hand-over still waits

            async def send_second() -> None:
                (answer,) = await vk.deliver_callback(base + BOT.path, second, secret=SECRET)
                answered.append(answer.text)

            async with anyio.create_task_group() as tg:
                tg.start_soon(send_second)
                await second_arrived.wait()
                assert answered == []  # the request waits inside its hand-over
                gate.set()
            assert answered == ["ok"]
    assert sorted(delivered) == sorted([first["event_id"], second["event_id"]])


async def test_a_chunked_body_is_read_and_checked(vk: FakeVK) -> None:
    updates: list[dict[str, Any]] = []
    got = anyio.Event()

    async def sink(bot: str, update: dict[str, Any]) -> None:
        updates.append(update)
        got.set()

    async def chunks(data: bytes) -> Any:
        yield data[:10]
        yield data[10:]

    update = {**vk.build_message(GROUP_ID, 5, "chunked"), "secret": SECRET}
    raw = json.dumps(update).encode()
    async with serve(create_callback_app([BOT], sink, max_body_size=len(raw))) as base:
        async with (
            aiohttp.ClientSession() as session,
            session.post(base + BOT.path, data=chunks(raw)) as response,
        ):
            assert (response.status, await response.text()) == (200, "ok")
        status, _ = await post(base + BOT.path, raw + b" " * 10)
        assert status == 413
        with anyio.fail_after(30):
            await got.wait()
    assert updates[0]["event_id"] == update["event_id"]


async def test_a_waiting_sink_gets_another_worker_for_the_next_update(vk: FakeVK) -> None:
    gate = anyio.Event()
    both_inside = anyio.Event()
    inside: list[str] = []
    delivered: list[str] = []

    async def slow(bot: str, update: dict[str, Any]) -> None:
        inside.append(update["event_id"])
        if len(inside) == 2:
            both_inside.set()
        await gate.wait()
        delivered.append(update["event_id"])

    updates = [vk.build_message(GROUP_ID, 5, text) for text in ("one", "two")]
    app = create_callback_app([BOT], slow, max_handovers=2)
    with anyio.fail_after(10):
        async with serve(app) as base:
            for update in updates:  # both answered at once, though the first still waits
                (answer,) = await vk.deliver_callback(base + BOT.path, update, secret=SECRET)
                assert answer.text == "ok"
            await both_inside.wait()  # the second did not queue behind the first
            async with (
                aiohttp.ClientSession() as session,
                session.get(base + "/healthz") as response,
            ):
                assert (await response.json())["pending"] == 2
            gate.set()
    assert sorted(delivered) == sorted(u["event_id"] for u in updates)
