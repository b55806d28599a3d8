"""FakeVK itself: VK's wire format, errors, limits and faults, checked with raw HTTP."""

from __future__ import annotations

import socket
from typing import Any

import aiohttp
import anyio
import pytest
from vkhelpers import GROUP_ID, TOKEN

from botrt.protocols.vk import VkApi, VkApiError
from botrt.testing._fakevk import FakeVK, FakeVKError

pytestmark = pytest.mark.anyio


async def raw_call(vk: FakeVK, method: str, **params: Any) -> dict[str, Any]:
    form = {"v": "5.199", "access_token": TOKEN, **{k: str(v) for k, v in params.items()}}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{vk.api_url}/{method}", data=form) as response,
    ):
        assert response.status == 200
        return await response.json()


async def test_errors_are_shaped_like_vk(vk: FakeVK) -> None:
    bad = await raw_call(vk, "users.get", access_token="nope", user_ids=1)
    assert bad["error"]["error_code"] == 5
    keys = [p["key"] for p in bad["error"]["request_params"]]
    assert "access_token" not in keys
    assert {"method", "oauth", "v", "user_ids"} <= set(keys)
    assert (await raw_call(vk, "nosuch.method"))["error"]["error_code"] == 3
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{vk.api_url}/users.get", data={"access_token": TOKEN}) as response,
    ):
        assert (await response.json())["error"]["error_code"] == 8


async def test_messages_send_rules(vk: FakeVK) -> None:
    no_random = await raw_call(vk, "messages.send", peer_id=1, message="x")
    assert no_random["error"]["error_code"] == 100
    too_long = await raw_call(vk, "messages.send", peer_id=1, message="x" * 4097, random_id=1)
    assert too_long["error"]["error_code"] == 914
    empty = await raw_call(vk, "messages.send", peer_id=1, message="", random_id=1)
    assert empty["error"]["error_code"] == 100
    many = ",".join(str(i) for i in range(101))
    assert (await raw_call(vk, "messages.send", peer_ids=many, message="x", random_id=1))["error"][
        "error_code"
    ] == 100
    vk.block(3, code=902)
    items = await raw_call(vk, "messages.send", peer_ids="2,3", message="x", random_id=0)
    assert items["response"][0]["peer_id"] == 2
    assert items["response"][1] == {
        "peer_id": 3,
        "error": {
            "code": 902,
            "description": "Can't send messages to this user due to their privacy settings",
        },
    }
    # random_id 0 turns VK's duplicate check off.
    await raw_call(vk, "messages.send", peer_id=2, message="x", random_id=0)
    assert len(vk.sent_to(2)) == 2


async def test_get_members_pages_managers_and_fields(vk: FakeVK, api: VkApi) -> None:
    vk.add_group(7, token="other", members=range(1, 2501), managers={5: "administrator"})
    vk.add_user(5, "Иван", "Иванов")
    seen: list[int] = []
    offset = 0
    while True:
        page = await api.groups.getMembers(group_id=7, offset=offset, count=1000)
        seen += page["items"]
        offset += 1000
        if offset >= page["count"]:
            break
    assert seen == list(range(1, 2501))
    managers = await api.groups.getMembers(group_id=7, filter="managers")
    assert managers == {
        "count": 1,
        "items": [{"id": 5, "role": "administrator", "permissions": [], "is_call_operator": False}],
    }
    named = await api.groups.getMembers(group_id=7, fields="first_name,last_name", count=5)
    assert named["items"][4]["first_name"] == "Иван"
    with pytest.raises(VkApiError) as caught:
        await api.groups.getMembers(group_id=7, count=1001)
    assert caught.value.code == 100


async def test_rate_limit_per_token(vk: FakeVK) -> None:
    codes: list[int | None] = []

    async def one() -> None:
        body = await raw_call(vk, "users.get", user_ids=1)
        codes.append(body.get("error", {}).get("error_code"))

    async with anyio.create_task_group() as tg:
        for _ in range(25):
            tg.start_soon(one)
    assert codes.count(6) == 5
    assert vk.rate_limited == 5


async def test_execute_grammar(vk: FakeVK) -> None:
    single = await raw_call(vk, "execute", code='return API.users.get({"user_ids": 4});')
    assert single["response"][0]["id"] == 4
    spaced = await raw_call(
        vk, "execute", code=' return [ API.users.get( {"user_ids": "1,2"} ) , API.x.y( ) ] '
    )
    assert spaced["response"][1] is False
    assert spaced["execute_errors"] == [
        {"method": "x.y", "error_code": 3, "error_msg": "Unknown method passed"}
    ]
    for code in ("var a = 1; return a;", "return [API.users.get({})", "return API.users.get(1);"):
        assert (await raw_call(vk, "execute", code=code))["error"]["error_code"] == 12
    many = "return [" + ",".join(["API.users.get({})"] * 26) + "];"
    assert (await raw_call(vk, "execute", code=many))["error"]["error_code"] == 13
    assert vk.calls["execute"] == 6


async def test_longpoll_wire_format(vk: FakeVK) -> None:
    server = (await raw_call(vk, "groups.getLongPollServer", group_id=GROUP_ID))["response"]
    assert isinstance(server["ts"], str)
    update = vk.push_message(GROUP_ID, 5, "hi", payload={"a": 1})
    params = {"act": "a_check", "key": server["key"], "ts": server["ts"], "wait": "25"}
    async with aiohttp.ClientSession() as session:
        async with session.get(server["server"], params=params) as response:
            body = await response.json()
        assert body == {"ts": str(int(server["ts"]) + 1), "updates": [update]}
        assert len(update["event_id"]) == 40
        assert update["object"]["message"]["payload"] == '{"a": 1}'
        with anyio.fail_after(30):  # an idle wait is capped for tests
            async with session.get(server["server"], params={**params, "ts": body["ts"]}) as r:
                assert await r.json() == {"ts": body["ts"], "updates": []}
        async with session.get(server["server"], params={**params, "key": "old"}) as response:
            assert await response.json() == {"failed": 2}


async def test_deliver_callback_to_nobody(vk: FakeVK) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    answers = await vk.deliver_callback(f"http://127.0.0.1:{port}/x", {"type": "t"}, retries=1)
    assert [(a.status, a.retry_counter) for a in answers] == [(0, None), (0, 1)]


async def test_misuse_is_reported(vk: FakeVK) -> None:
    with pytest.raises(FakeVKError, match="not registered"):
        vk.push_message(999, 1, "x")
    with pytest.raises(FakeVKError, match="exactly one"):
        vk.fail_next("users.get")
    with pytest.raises(FakeVKError, match="not started"):
        _ = FakeVK().api_url
