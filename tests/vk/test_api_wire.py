"""VkApi's per-request parts made once (URLs) and its quick read of `{"response": N}`:
what goes on the wire and what a caller gets back are as before."""

from __future__ import annotations

import pytest
from vkhelpers import TOKEN, ScriptedVK

from botrt.protocols.vk import VkApi, VkTransportError
from botrt.protocols.vk._http import Secret

pytestmark = pytest.mark.anyio


async def test_changed_api_url_version_and_token_are_used(scripted: ScriptedVK) -> None:
    for path in ("/method/users.get", "/other/users.get", "/other/messages.send"):
        scripted.add(path, {"response": 1})
    async with VkApi(TOKEN, api_url=scripted.url + "/method", coalesce=False) as api:
        assert await api.users.get(user_ids=1) == 1
        api.api_url = scripted.url + "/other"
        api.version = "5.131"
        api._token = Secret("another-token")  # as if the client were given a new token
        assert await api.users.get(user_ids=1) == 1
        assert await api.messages.send(peer_id=5, message="hi", random_id=3) == 1
    assert [path for path, _ in scripted.requests] == [
        "/method/users.get",
        "/other/users.get",
        "/other/messages.send",
    ]
    sent = [(p["access_token"], p["v"]) for _, p in scripted.requests]
    assert sent == [(TOKEN, "5.199"), ("another-token", "5.131"), ("another-token", "5.131")]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"response":7}', 7),
        (b'{"response": -3}', -3),
        (b'{"response":0}', 0),
        (b'{"response":123456789012345678901234}', 123456789012345678901234),
        (b'{"response":1} ', 1),
        (b'{"response":[1,2]}', [1, 2]),
        (b'{"response":1,"execute_errors":[]}', 1),
    ],
)
async def test_answers_are_read_as_json(scripted: ScriptedVK, raw: bytes, expected: object) -> None:
    scripted.add("/method/messages.send", raw)
    async with VkApi(TOKEN, api_url=scripted.url + "/method") as api:
        assert await api.messages.send(peer_id=5, message="hi") == expected


@pytest.mark.parametrize("raw", [b'{"response":01}', b'{"response":1', b'{"response":-}'])
async def test_answers_that_are_not_json_are_retried(scripted: ScriptedVK, raw: bytes) -> None:
    scripted.add("/method/messages.send", raw)
    scripted.add("/method/messages.send", b'{"response":9}')
    async with VkApi(TOKEN, api_url=scripted.url + "/method", retry_delay=0.001) as api:
        assert await api.messages.send(peer_id=5, message="hi") == 9
        assert api.stats.retries == {"bad_json": 1}


async def test_not_json_to_the_end_is_reported(scripted: ScriptedVK) -> None:
    for _ in range(2):
        scripted.add("/method/messages.send", b'{"response":01}')
    async with VkApi(
        TOKEN, api_url=scripted.url + "/method", retry_delay=0.001, max_retries=1
    ) as api:
        with pytest.raises(VkTransportError, match="bad_json"):
            await api.messages.send(peer_id=5, message="hi")
