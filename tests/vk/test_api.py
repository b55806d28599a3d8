"""VkApi against FakeVK (and replayed real error payloads): calls, retries, errors, secrecy."""

from __future__ import annotations

import json
import logging
import pickle

import aiohttp
import pytest
from vkhelpers import GROUP_ID, TOKEN, ManualTimer, ScriptedVK, load_payload

from botrt.protocols.vk import VkApi, VkApiError, VkConfigError, VkError, VkTransportError
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio


async def test_call_round_trip_and_namespace_proxy(vk: FakeVK, api: VkApi) -> None:
    vk.add_user(3, "Анна", "Петрова")
    users = await api.call("users.get", user_ids=[3, 4])
    assert [(u["id"], u["first_name"]) for u in users] == [(3, "Анна"), (4, "User")]
    assert await api.users.get(user_ids=3) == users[:1]
    members = await api.groups.getMembers(group_id=GROUP_ID)
    assert members == {"count": 10, "items": list(range(1, 11))}
    assert vk.calls["users.get"] == 2
    assert api.stats.calls == {"users.get": 2, "groups.getMembers": 1}
    assert api.stats.requests == 3


async def test_messages_send_fills_random_id_and_encodes_params(vk: FakeVK, api: VkApi) -> None:
    keyboard = {"one_time": True, "buttons": [[{"action": {"type": "text", "label": "Да"}}]]}
    for text in ("a", "b", "c"):  # messages 1, 2 and 3 of conversation 5, to forward
        vk.build_message(GROUP_ID, 5, text)
    message_id = await api.messages.send(
        peer_id=5,
        message="привет",
        keyboard=keyboard,
        dont_parse_links=True,
        forward_messages=[1, 2, 3],
        reply_to=None,
    )
    (sent,) = vk.sent
    assert sent.message_id == message_id
    assert 0 < sent.random_id < 2**31
    assert json.loads(sent.params["keyboard"]) == keyboard
    assert sent.params["dont_parse_links"] == "1"
    assert sent.params["forward_messages"] == "1,2,3"
    assert "reply_to" not in sent.params
    assert "access_token" not in sent.params


async def test_deterministic_random_id_is_sent_once(vk: FakeVK, api: VkApi) -> None:
    first = await api.messages.send(peer_id=5, message="once", random_id=77)
    again = await api.messages.send(peer_id=5, message="once", random_id=77)
    other_peer = await api.messages.send(peer_id=6, message="once", random_id=77)
    assert first == again != other_peer
    assert [m.peer_id for m in vk.sent] == [5, 6]


async def test_vk_error_10_is_retried_until_success(vk: FakeVK, api: VkApi) -> None:
    vk.fail_next("users.get", vk_error=10, times=3)
    assert await api.users.get(user_ids=1)
    assert vk.calls["users.get"] == 4
    assert api.stats.retries == {10: 3}


async def test_http_5xx_and_dropped_connections_are_retried(vk: FakeVK, api: VkApi) -> None:
    vk.fail_next("messages.send", http_status=502, times=2)
    vk.drop_next_connection("messages.send")
    await api.messages.send(peer_id=5, message="through", random_id=9)
    assert [m.text for m in vk.sent] == ["through"]
    retries = api.stats.retries
    assert retries["http_502"] == 2
    assert retries["network"] == 1


async def test_non_json_answer_is_retried(vk: FakeVK, api: VkApi) -> None:
    vk.fail_next("users.get", http_status=200)  # an HTML page with status 200
    assert await api.users.get(user_ids=1)
    assert api.stats.retries == {"bad_json": 1}


async def test_flood_control_is_retried_more_slowly(vk: FakeVK) -> None:
    async with VkApi(TOKEN, api_url=vk.api_url, retry_delay=0.001, max_retry_delay=0.01) as api:
        vk.fail_next("users.get", vk_error=9)
        assert await api.users.get(user_ids=1)
        assert api.stats.retries == {9: 1}


async def test_retries_are_bounded(vk: FakeVK) -> None:
    async with VkApi(
        TOKEN, api_url=vk.api_url, max_retries=2, retry_delay=0.001, max_retry_delay=0.01
    ) as api:
        vk.fail_next("users.get", vk_error=10, times=10)
        with pytest.raises(VkApiError) as caught:
            await api.users.get(user_ids=1)
        assert caught.value.code == 10
        assert vk.calls["users.get"] == 3
        vk.fail_next("users.search", http_status=503, times=10)
        with pytest.raises(VkTransportError, match="http_503") as transport:
            await api.users.search(q="x")
        assert transport.value.attempts == 3
        assert api.stats.errors == {10: 1}


async def test_retry_time_is_bounded(vk: FakeVK) -> None:
    # On a timer that moves only by the retry loop's own waits (the limit is
    # out of reach): what is checked is the plan, not how fast the machine is.
    timer = ManualTimer(auto=True)
    started = timer.now()
    async with VkApi(
        TOKEN,
        api_url=vk.api_url,
        rate_limit=1000,
        max_retries=1000,
        retry_delay=0.05,
        max_retry_delay=0.2,
        max_retry_time=0.5,
        timer=timer,
    ) as api:
        vk.fail_next("users.get", vk_error=10, times=1000)
        with pytest.raises(VkApiError):
            await api.users.get(user_ids=1)
    # No retry starts that would end past max_retry_time; each waited first.
    assert timer.now() - started <= 0.5
    assert 1 < vk.calls["users.get"] < 1000
    assert len(timer.sleeps) == vk.calls["users.get"] - 1
    assert all(0 <= s <= 0.2 for s in timer.sleeps)


async def test_timeout_is_retried_then_reported(vk: FakeVK) -> None:
    async with VkApi(TOKEN, api_url=vk.api_url, timeout=0.05, max_retries=1, retry_delay=0) as api:
        vk.slow(0.5)
        with pytest.raises(VkTransportError, match="timeout"):
            await api.users.get(user_ids=1)
        assert api.stats.retries == {"timeout": 1}


async def test_non_retryable_error_carries_code_method_params_without_token(
    vk: FakeVK, api: VkApi
) -> None:
    vk.block(8, code=902)
    with pytest.raises(VkApiError) as caught:
        await api.messages.send(peer_id=8, message="hi", random_id=5)
    err = caught.value
    assert (err.code, err.method, err.unreachable) == (902, "messages.send", True)
    assert err.params == {"peer_id": 8, "message": "hi", "random_id": 5}
    assert "privacy" in err.message
    assert err.raw["error_code"] == 902
    assert vk.calls["messages.send"] == 1  # not retried
    for text in (str(err), repr(err), repr(err.params), repr(err.raw)):
        assert TOKEN not in text
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.code, copy.method, copy.params) == (902, "messages.send", err.params)


async def test_unknown_method_and_bad_token(vk: FakeVK, api: VkApi) -> None:
    with pytest.raises(VkApiError) as unknown:
        await api.call("nosuch.method")
    assert (unknown.value.code, unknown.value.method) == (3, "nosuch.method")
    async with VkApi("wrong-" + TOKEN, api_url=vk.api_url) as bad:
        with pytest.raises(VkApiError) as auth:
            await bad.users.get(user_ids=1)
    assert auth.value.code == 5
    assert TOKEN not in str(auth.value)
    assert TOKEN not in repr(auth.value.raw)


async def test_token_never_in_repr_or_logs(
    vk: FakeVK, api: VkApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vk.fail_next("users.get", vk_error=10)
    vk.fail_next("groups.getMembers", http_status=500)
    await api.users.get(user_ids=1)
    await api.groups.getMembers(group_id=GROUP_ID)
    with pytest.raises(VkApiError):
        await api.call("nosuch.method")
    assert "retry" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(api)
    assert TOKEN not in repr(vars(api))


async def test_wrong_api_url_is_not_retried(vk: FakeVK) -> None:
    async with VkApi(TOKEN, api_url=vk.api_url.replace("/method", "/nothing")) as api:
        with pytest.raises(VkTransportError, match="HTTP 404") as caught:
            await api.users.get(user_ids=1)
    assert caught.value.attempts == 1


async def test_closed_client_and_bad_settings(vk: FakeVK) -> None:
    api = VkApi(TOKEN, api_url=vk.api_url)
    await api.users.get(user_ids=1)
    await api.close()
    await api.close()
    with pytest.raises(VkError, match="closed"):
        await api.users.get(user_ids=1)
    with pytest.raises(VkConfigError):
        VkApi("")
    with pytest.raises(VkConfigError):
        VkApi(TOKEN, rate_limit=0)
    with pytest.raises(AttributeError):
        _ = api._private  # private names are not API namespaces


async def test_given_session_is_used_and_left_open(vk: FakeVK) -> None:
    async with aiohttp.ClientSession() as session:
        async with VkApi(TOKEN, api_url=vk.api_url, session=session) as api:
            assert api.http_session() is session
            await api.users.get(user_ids=1)
        assert not session.closed


# -- real error payloads, replayed ---------------------------------------------------


async def test_real_error_payloads(scripted: ScriptedVK) -> None:
    captcha = load_payload("16_error_14_captcha_docs.json")
    auth = load_payload("17_error_5_auth_vkbottle_test.json")
    internal = load_payload("18_error_10_internal_vkbottle_test.json")
    scripted.add("/method/users.get", captcha)
    scripted.add("/method/wall.getById", auth)
    scripted.add("/method/groups.getById", internal)
    scripted.add("/method/groups.getById", {"response": [{"id": 1}]})
    async with VkApi(TOKEN, api_url=scripted.url + "/method", retry_delay=0.001) as api:
        with pytest.raises(VkApiError) as c14:
            await api.users.get()
        assert c14.value.code == 14
        assert c14.value.raw["redirect_uri"].startswith("https://id.vk.com/")
        with pytest.raises(VkApiError) as c5:
            await api.wall.getById(posts="123_123")
        assert c5.value.code == 5
        assert "invalid access_token" in c5.value.message
        # Error 10 without request_params is retried; the second answer succeeds.
        assert await api.groups.getById(group_id=1) == [{"id": 1}]
    sent = [params for path, params in scripted.requests]
    assert all(p["access_token"] == TOKEN and p["v"] == "5.199" for p in sent)
