"""Forwarded messages: `MessageNew` exposes them, FakeVK checks `forward` as VK does.

The update is the real capture `vk-payloads/05…` (API 5.199), with the
`fwd_messages` / `reply_message` objects VK's schema gives a message
(`messages_foreign_message`: date, from_id, text, conversation_message_id,
peer_id when VK knows it).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from vkhelpers import GROUP_ID

from botrt.protocols.vk import MessageNew, VkApi, VkApiError, parse_update
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio

# vk-payloads/05_bots_longpoll_response_message_new_real.json, its one update.
CAPTURED: dict[str, Any] = {
    "type": "message_new",
    "object": {
        "message": {
            "date": 1612685621,
            "from_id": 326596496,
            "id": 9,
            "out": 0,
            "peer_id": 326596496,
            "text": "Добрый день!",
            "conversation_message_id": 9,
            "fwd_messages": [],
            "important": False,
            "random_id": 0,
            "attachments": [],
            "is_hidden": False,
        },
        "client_info": {
            "button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback"],
            "keyboard": True,
            "inline_keyboard": True,
            "carousel": True,
            "lang_id": 0,
        },
    },
    "group_id": 202308925,
    "event_id": "810c3002e50fb85d205fdbbfa23c03a7dd05706b",
}
FORWARDED = [
    {
        "date": 1612685000,
        "from_id": 111,
        "text": "Пара в 10:00 отменена",
        "attachments": [],
        "conversation_message_id": 1543,
        "peer_id": 2000000001,
    },
    {"date": 1612685010, "from_id": 112, "text": "и в 12:00", "conversation_message_id": 1544},
]


def captured(**message: Any) -> MessageNew:
    update = copy.deepcopy(CAPTURED)
    update["object"]["message"].update(message)
    event = parse_update(update, bot="b")
    assert isinstance(event, MessageNew)
    return event


def test_a_plain_message_has_nothing_to_forward() -> None:
    event = captured()
    assert event.forwarded == []
    assert event.reply_to is None
    assert event.forward_on() is None


def test_forwarded_messages_go_on_inside_the_message_that_carries_them() -> None:
    event = captured(text=".mb", fwd_messages=FORWARDED)
    assert [m["text"] for m in event.forwarded] == ["Пара в 10:00 отменена", "и в 12:00"]
    assert event.forward_on() == ({"peer_id": 326596496, "conversation_message_ids": [9]}, 2)


def test_a_reply_goes_on_as_the_message_it_answers() -> None:
    answered = {"date": 1612685500, "from_id": 326596496, "text": "Экзамен в пятницу"}
    event = captured(reply_message={**answered, "conversation_message_id": 7, "id": 7})
    assert event.reply_to is not None
    assert event.reply_to["text"] == "Экзамен в пятницу"
    assert event.forward_on() == ({"peer_id": 326596496, "conversation_message_ids": [7]}, 1)
    # Old payloads without conversation ids name the message by its id.
    old = captured(conversation_message_id=None, fwd_messages=FORWARDED)
    assert old.forward_on() == ({"peer_id": 326596496, "message_ids": [9]}, 2)


def test_malformed_forwards_are_ignored() -> None:
    event = captured(fwd_messages="nope", reply_message=["not", "an", "object"])
    assert event.forwarded == []
    assert event.reply_to is None
    assert event.forward_on() is None


async def send(api: VkApi, **params: Any) -> Any:
    return await api.call("messages.send", random_id=0, **params)


async def test_fakevk_forwards_what_the_community_may_forward(vk: FakeVK, api: VkApi) -> None:
    update = vk.build_message(GROUP_ID, 5, ".mb", fwd_messages=FORWARDED)
    cmid = update["object"]["message"]["conversation_message_id"]
    forward = {"peer_id": 5, "conversation_message_ids": [cmid]}
    results = await send(api, peer_ids=[6, 7], message="", forward=forward)
    assert [r["peer_id"] for r in results] == [6, 7]
    assert [m.forward for m in vk.sent] == [forward, forward]
    by_id = {"peer_id": 5, "message_ids": [update["object"]["message"]["id"]]}
    await send(api, peer_id=6, message="x", forward=json.dumps(by_id))
    assert vk.sent[-1].forward == by_id
    await send(api, peer_id=5, forward_messages=update["object"]["message"]["id"])
    assert vk.sent[-1].params["forward_messages"] == str(update["object"]["message"]["id"])


@pytest.mark.parametrize(
    ("forward", "code"),
    [
        ("{not json", 100),
        ("[1, 2]", 100),
        ({"conversation_message_ids": [1]}, 100),  # no peer_id
        ({"peer_id": 5}, 100),  # nothing named
        ({"peer_id": 5, "conversation_message_ids": ["1"]}, 100),
        ({"peer_id": 5, "conversation_message_ids": [2]}, 921),  # never written there
        ({"peer_id": 2000000001, "conversation_message_ids": [1543]}, 921),  # a foreign chat
        ({"peer_id": 5, "message_ids": [999]}, 921),
        ({"peer_id": 5, "conversation_message_ids": [1], "is_reply": True}, 100),  # elsewhere
    ],
)
async def test_fakevk_refuses_forwards_vk_refuses(
    vk: FakeVK, api: VkApi, forward: Any, code: int
) -> None:
    vk.build_message(GROUP_ID, 5, ".mb", fwd_messages=FORWARDED)  # conversation 5: message 1
    with pytest.raises(VkApiError) as caught:
        await send(api, peer_ids=[6], message="x", forward=forward)
    assert caught.value.code == code
    assert vk.sent == []


async def test_fakevk_accepts_a_reply_in_its_own_chat_and_empty_text_only_with_forwards(
    vk: FakeVK, api: VkApi
) -> None:
    vk.build_message(GROUP_ID, 5, "вопрос")
    await send(
        api,
        peer_id=5,
        message="ответ",
        forward={"peer_id": 5, "conversation_message_ids": [1], "is_reply": True},
    )
    assert vk.sent[-1].forward == {"peer_id": 5, "conversation_message_ids": [1], "is_reply": True}
    with pytest.raises(VkApiError) as caught:
        await send(api, peer_id=5, message="")
    assert caught.value.code == 100
    with pytest.raises(VkApiError) as caught:
        await send(api, peer_id=5, forward_messages="12345")
    assert caught.value.code == 921


async def test_fakevk_records_typing_and_checks_its_type(vk: FakeVK, api: VkApi) -> None:
    assert await api.call("messages.setActivity", peer_id=5, type="typing") == 1
    assert [(a.group_id, a.peer_id, a.type) for a in vk.activities] == [(GROUP_ID, 5, "typing")]
    with pytest.raises(VkApiError) as caught:
        await api.call("messages.setActivity", peer_id=5, type="dancing")
    assert caught.value.code == 100
    assert len(vk.activities) == 1
