"""Bots Long Poll against FakeVK and against VK's documented answers, replayed."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from vkhelpers import (
    GROUP_ID,
    TOKEN,
    Collector,
    ManualTimer,
    ScriptedVK,
    load_payload,
    polling,
)

from botrt.protocols.vk import BotsLongPoll, MessageNew, VkApi, VkApiError, parse_update
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio


def poller(api: VkApi, group_id: int = GROUP_ID) -> BotsLongPoll:
    return BotsLongPoll(api, group_id, bot="group1", retry_delay=0.01, max_retry_delay=0.05)


async def test_round_trip_in_order(vk: FakeVK, api: VkApi) -> None:
    poll = poller(api)
    sink = Collector()
    assert not poll.connected
    async with polling(poll, sink, vk):
        pushed = [vk.push_message(GROUP_ID, 5, f"msg {i}") for i in range(3)]
        await sink.wait_count(3)
        assert poll.connected
    assert not poll.connected
    assert sink.event_ids == [u["event_id"] for u in pushed]
    assert {bot for bot, _ in sink.updates} == {"group1"}
    events = [parse_update(u, bot=b, api=api) for b, u in sink.updates]
    assert [e.text for e in events if isinstance(e, MessageNew)] == ["msg 0", "msg 1", "msg 2"]
    assert poll.ts == str(1000 + 3)
    assert poll.statistics().updates == 3


async def test_failed_1_takes_the_new_ts(vk: FakeVK, api: VkApi) -> None:
    poll = poller(api)
    sink = Collector()
    async with polling(poll, sink, vk):
        first = vk.push_message(GROUP_ID, 5, "one")
        await sink.wait_count(1)
        requests = vk.longpoll_requests
        vk.fail_longpoll(1)
        gap = vk.push_message(GROUP_ID, 5, "in the gap")
        await vk.wait_for(lambda: vk.longpoll_requests >= requests + 2)
        third = vk.push_message(GROUP_ID, 5, "three")
        await sink.wait_count(2)
    # failed:1 carries the server's newest ts, which is past "in the gap":
    # VK documents that gap as lost. The poller goes on from there, once each.
    assert sink.event_ids == [first["event_id"], third["event_id"]]
    assert gap["event_id"] not in sink.event_ids
    assert poll.statistics().failed == {1: 1}
    assert vk.calls["groups.getLongPollServer"] == 1  # same key and server


async def test_failed_2_gets_a_new_key_and_keeps_ts(vk: FakeVK, api: VkApi) -> None:
    poll = poller(api)
    sink = Collector()
    async with polling(poll, sink, vk):
        first = vk.push_message(GROUP_ID, 5, "one")
        await sink.wait_count(1)
        vk.fail_longpoll(2)
        # Pushed while the key is expired: a client that took the fresh ts
        # from groups.getLongPollServer would skip it.
        second = vk.push_message(GROUP_ID, 5, "two")
        await sink.wait_count(2)
    assert sink.event_ids == [first["event_id"], second["event_id"]]
    assert vk.calls["groups.getLongPollServer"] == 2
    assert poll.statistics().failed == {2: 1}


async def test_failed_3_gets_a_new_key_and_ts(vk: FakeVK, api: VkApi) -> None:
    poll = poller(api)
    sink = Collector()
    async with polling(poll, sink, vk):
        first = vk.push_message(GROUP_ID, 5, "one")
        await sink.wait_count(1)
        vk.fail_longpoll(3)
        lost = vk.push_message(GROUP_ID, 5, "lost")
        await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] == 2)
        third = vk.push_message(GROUP_ID, 5, "three")
        await sink.wait_count(2)
    # failed:3 means VK lost the history: the poller starts from VK's new ts.
    assert sink.event_ids == [first["event_id"], third["event_id"]]
    assert lost["event_id"] not in sink.event_ids
    assert poll.statistics().failed == {3: 1}


async def test_5xx_drops_and_bad_json_mid_stream_lose_nothing(vk: FakeVK, api: VkApi) -> None:
    poll = poller(api)
    sink = Collector()
    async with polling(poll, sink, vk):
        pushed = [vk.push_message(GROUP_ID, 5, "one")]
        await sink.wait_count(1)
        vk.fail_next("longpoll", http_status=502, times=2)
        vk.fail_next("longpoll", http_status=200)  # HTML with 200: bad JSON
        # aiohttp silently retries a GET once on a dropped keep-alive
        # connection: drop twice so that the poller sees it.
        vk.drop_next_connection("longpoll", times=2)
        pushed += [vk.push_message(GROUP_ID, 5, f"m{i}") for i in range(4)]
        await sink.wait_count(5)
        pushed.append(vk.push_message(GROUP_ID, 5, "last"))
        await sink.wait_count(6)
        assert poll.connected
    assert sink.event_ids == [u["event_id"] for u in pushed]
    assert poll.statistics().errors >= 4


async def test_cancelled_mid_batch_resumes_without_loss_or_duplicates(
    vk: FakeVK, api: VkApi
) -> None:
    poll = poller(api)
    handled: list[str] = []
    blocked = anyio.Event()

    async def stuck_on_second(bot: str, update: dict[str, Any]) -> None:
        if len(handled) == 1:
            blocked.set()
            await anyio.sleep_forever()
        handled.append(update["event_id"])

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(poll.run, stuck_on_second)
            await vk.wait_for(lambda: vk.longpoll_requests >= 1)
            # Pushed together, so they come back as one batch.
            pushed = [vk.push_message(GROUP_ID, 5, f"m{i}") for i in range(3)]
            await blocked.wait()
            tg.cancel_scope.cancel()
    assert handled == [pushed[0]["event_id"]]
    sink = Collector()
    async with polling(poll, sink, vk):
        await sink.wait_count(2)
    assert handled + sink.event_ids == [u["event_id"] for u in pushed]


async def test_failing_sink_is_logged_and_polling_goes_on(
    vk: FakeVK, api: VkApi, caplog: pytest.LogCaptureFixture
) -> None:
    poll = poller(api)
    sink = Collector()

    async def flaky(bot: str, update: dict[str, Any]) -> None:
        await sink(bot, update)
        if len(sink.updates) == 1:
            raise RuntimeError("handler bug")

    async with polling(poll, flaky, vk):
        vk.push_message(GROUP_ID, 5, "one")
        vk.push_message(GROUP_ID, 5, "two")
        await sink.wait_count(2)
    assert "handler bug" in caplog.text
    assert len(sink.updates) == 2


async def test_refused_long_poll_server_is_raised(vk: FakeVK, api: VkApi) -> None:
    poll = poller(api, group_id=999)
    with anyio.fail_after(30), pytest.raises(VkApiError) as caught:
        await poll.run(Collector())
    assert caught.value.code == 15


async def test_run_twice_at_once_is_refused(vk: FakeVK, api: VkApi) -> None:
    poll = poller(api)
    async with polling(poll, Collector(), vk):
        with pytest.raises(Exception, match="already running"):
            await poll.run(Collector())


async def test_key_never_logged(vk: FakeVK, api: VkApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    poll = poller(api)
    sink = Collector()
    async with polling(poll, sink, vk):
        vk.push_message(GROUP_ID, 5, "one")
        await sink.wait_count(1)
        vk.drop_next_connection("longpoll")
        vk.fail_next("longpoll", http_status=500)
        vk.push_message(GROUP_ID, 5, "two")
        await sink.wait_count(2)
        await vk.wait_for(lambda: vk.longpoll_requests >= 4)
    key = (await api.groups.getLongPollServer(group_id=GROUP_ID))["key"]
    assert key not in caplog.text
    assert TOKEN not in caplog.text


# -- VK's documented answers, replayed in order -------------------------------------


async def test_documented_failed_answers_replayed(scripted: ScriptedVK) -> None:
    server = {"key": "k1", "server": scripted.url + "/lp", "ts": "7"}
    scripted.add("/method/groups.getLongPollServer", {"response": server})
    scripted.add("/lp", load_payload("02_bots_longpoll_failed_1_docs.json"))  # ts 30, a number
    scripted.add("/lp", load_payload("05_bots_longpoll_response_message_new_real.json"))
    scripted.add("/lp", load_payload("03_bots_longpoll_failed_2_docs.json"))
    scripted.add("/method/groups.getLongPollServer", {"response": {**server, "key": "k2"}})
    scripted.add("/lp", load_payload("04_bots_longpoll_failed_3_docs.json"))
    scripted.add(
        "/method/groups.getLongPollServer", {"response": {**server, "key": "k3", "ts": 50}}
    )
    scripted.add("/lp", load_payload("01_bots_longpoll_response_docs.json"))
    sink = Collector()
    async with VkApi(TOKEN, api_url=scripted.url + "/method") as api:
        poll = BotsLongPoll(api, 123, bot="b", retry_delay=0.01)
        async with polling(poll, sink):
            await sink.wait_count(2)
            await scripted.wait_requests("/lp", 6)
    checks = [
        (p["key"], p["ts"], p["act"], p["wait"]) for path, p in scripted.requests if path == "/lp"
    ]
    assert checks == [
        ("k1", "7", "a_check", "25"),
        ("k1", "30", "a_check", "25"),  # failed 1: the ts of the answer
        ("k1", "10", "a_check", "25"),  # after the batch: its ts
        ("k2", "10", "a_check", "25"),  # failed 2: new key, same ts
        ("k3", "50", "a_check", "25"),  # failed 3: new key and ts
        ("k3", "4", "a_check", "25"),
    ]
    assert [u["type"] for _, u in sink.updates] == ["message_new", "wall_post_new"]


FAILURES = 1100  # the old doubling overflowed at the 1,025th


@pytest.mark.timeout(900)  # 1,100 loopback requests: minutes with every core busy
async def test_1100_failures_in_a_row_neither_overflow_nor_stop_the_poller(vk: FakeVK) -> None:
    # Past the 1,025th failure (about 6 h of VK outage), the old doubling's
    # `2 ** 1025` overflowed a float: the poller died and the bot stayed up,
    # deaf. The waits are recorded, not waited.
    timer = ManualTimer(auto=True)
    async with VkApi(TOKEN, api_url=vk.api_url, timer=timer) as api:
        poll = BotsLongPoll(api, GROUP_ID, bot="group1", retry_delay=1.0, max_retry_delay=30.0)
        sink = Collector()
        vk.fail_next("longpoll", http_status=500, times=FAILURES)
        with anyio.fail_after(600):  # a hang bound only
            async with polling(poll, sink, vk):
                pushed = vk.push_message(GROUP_ID, 5, "after the outage")
                await sink.wait_count(1, seconds=600)
    assert sink.event_ids == [pushed["event_id"]]
    assert poll.statistics().errors == FAILURES
    assert len(timer.sleeps) == FAILURES
    assert 0.5 <= timer.sleeps[0] <= 1.0  # jittered within its upper half
    assert max(timer.sleeps) <= 30.0  # capped
    assert all(15.0 <= s <= 30.0 for s in timer.sleeps[10:])
    assert len(set(timer.sleeps[10:])) > FAILURES - 100  # and jittered, not one shared value
