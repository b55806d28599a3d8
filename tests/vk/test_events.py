"""Parsing VK updates into events: real payloads, tolerance, mentions, long replies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from vkhelpers import GROUP_ID, PAYLOADS, load_payload

from botrt.adapter import Event, ReplyNotSupportedError, TextEvent
from botrt.protocols.vk import (
    GroupJoin,
    GroupLeave,
    MessageEvent,
    MessageNew,
    VkApi,
    VkEvent,
    VkPayloadError,
    parse_update,
    split_message,
)
from botrt.testing._fakevk import FakeVK


def envelope(type_: str, object_: Any, **extra: Any) -> dict[str, Any]:
    return {"type": type_, "object": object_, "group_id": GROUP_ID, **extra}


def message(text: str, *, from_id: int = 7, peer_id: int | None = None, **extra: Any) -> dict:
    msg = {"id": 3, "from_id": from_id, "peer_id": peer_id or from_id, "text": text, **extra}
    return envelope("message_new", {"message": msg, "client_info": {}}, event_id="e" * 40)


# -- the real payloads of /work/shared/vk-payloads ---------------------------


def _updates_of(name: str) -> list[dict[str, Any]]:
    data = load_payload(name)
    return data["updates"]


def test_every_payload_file_is_covered() -> None:
    if not PAYLOADS.is_dir():
        pytest.skip(f"{PAYLOADS} is not available")
    covered = {
        "01_bots_longpoll_response_docs.json",
        "05_bots_longpoll_response_message_new_real.json",
        "07_message_new_object_real.json",
        "08_message_reply_object_real.json",
        "09_message_event_object_real.json",
        "12_group_join_real.json",
        "13_group_leave_real.json",
        "14_group_join_callback_docs.json",
        "15_confirmation_with_secret_vksdk_test.json",
        # Long Poll failures: test_longpoll.py replays them through the poller.
        "02_bots_longpoll_failed_1_docs.json",
        "03_bots_longpoll_failed_2_docs.json",
        "04_bots_longpoll_failed_3_docs.json",
        # API errors: test_api.py replays them through VkApi.
        "16_error_14_captcha_docs.json",
        "17_error_5_auth_vkbottle_test.json",
        "18_error_10_internal_vkbottle_test.json",
    }
    assert {p.name for p in PAYLOADS.glob("*.json")} <= covered


def test_longpoll_response_wall_post_is_a_vk_event() -> None:
    (update,) = _updates_of("01_bots_longpoll_response_docs.json")
    event = parse_update(update, bot="b", api=None)
    assert type(event) is VkEvent
    assert event.type == "wall_post_new"
    assert event.object["text"] == "Post text"
    assert event.event_id == "c68dfb983247fea8ac98ea0ea59717df71d8064f"
    assert event.group_id == 123456
    assert event.raw == update


def test_longpoll_response_message_new_real() -> None:
    (update,) = _updates_of("05_bots_longpoll_response_message_new_real.json")
    event = parse_update(update, bot="group1", api=None)
    assert isinstance(event, MessageNew)
    assert isinstance(event, TextEvent)
    assert (event.platform, event.bot) == ("vk", "group1")
    assert event.text == event.raw_text == "Добрый день!"
    assert event.user_id == event.peer_id == 326596496
    assert event.message_id == 9
    assert event.conversation_message_id == 9
    assert event.attachments == []
    assert event.payload is None
    assert not event.is_chat
    assert event.event_id == "810c3002e50fb85d205fdbbfa23c03a7dd05706b"
    assert event.group_id == 202308925
    assert "callback" in event.client_info["button_actions"]


def test_message_new_object_real() -> None:
    event = parse_update(
        envelope("message_new", load_payload("07_message_new_object_real.json")), bot="b"
    )
    assert isinstance(event, MessageNew)
    assert (event.text, event.user_id, event.conversation_message_id) == ("Wwww", 326596496, 295)
    assert event.event_id is None


def test_message_reply_is_a_vk_event_and_its_bare_message_parses_as_old_shape() -> None:
    obj = load_payload("08_message_reply_object_real.json")
    reply = parse_update(envelope("message_reply", obj), bot="b")
    assert type(reply) is VkEvent
    assert reply.type == "message_reply"
    # The object is a bare message, which is also the pre-5.103 message_new shape.
    old = parse_update(envelope("message_new", obj), bot="b")
    assert isinstance(old, MessageNew)
    assert old.user_id == -202308925
    assert old.peer_id == 326596496
    assert old.payload == {"command": "detailing_order", "content": 3, "page": 1}


def test_message_event_object_real() -> None:
    obj = load_payload("09_message_event_object_real.json")
    event = parse_update(envelope("message_event", obj, event_id="f" * 40), bot="b")
    assert isinstance(event, MessageEvent)
    assert event.event_id == "0ae26189a432"
    assert event.update_id == "f" * 40
    assert event.user_id == event.peer_id == 140038124
    assert event.payload == {"command": "menu_section_queries"}
    assert event.conversation_message_id is None


def test_group_join_and_leave_real_without_event_id() -> None:
    join = parse_update(load_payload("12_group_join_real.json"), bot="b")
    assert isinstance(join, GroupJoin)
    assert (join.user_id, join.join_type, join.event_id) == (366305213, "join", None)
    assert join.group_id == 146048760
    leave = parse_update(load_payload("13_group_leave_real.json"), bot="b")
    assert isinstance(leave, GroupLeave)
    assert (leave.user_id, leave.self_left) == (366305213, True)


def test_group_join_docs_numeric_event_id_becomes_a_string() -> None:
    join = parse_update(load_payload("14_group_join_callback_docs.json"), bot="b")
    assert isinstance(join, GroupJoin)
    assert join.event_id == "12345"
    assert join.join_type == "approved"


def test_confirmation_without_object_is_a_vk_event() -> None:
    event = parse_update(load_payload("15_confirmation_with_secret_vksdk_test.json"), bot="b")
    assert isinstance(event, VkEvent)
    assert (event.type, event.object, event.group_id) == ("confirmation", {}, 123456)


# -- tolerance ----------------------------------------------------------------


@pytest.mark.parametrize(
    "payload", ['{"command":"start"}', {"command": "start"}], ids=["string", "object"]
)
def test_payload_string_or_object(payload: Any) -> None:
    event = parse_update(message("Начать", payload=payload), bot="b")
    assert isinstance(event, MessageNew)
    assert event.payload == {"command": "start"}


def test_payload_that_is_not_json_is_kept_as_is() -> None:
    event = parse_update(message("x", payload="not json"), bot="b")
    assert isinstance(event, MessageNew)
    assert event.payload == "not json"


def test_message_event_payload_as_string() -> None:
    obj = {"user_id": 1, "peer_id": 1, "event_id": "abc", "payload": '{"a": 1}'}
    event = parse_update(envelope("message_event", obj), bot="b")
    assert isinstance(event, MessageEvent)
    assert event.payload == {"a": 1}


def test_unknown_fields_and_enum_values_are_ignored() -> None:
    update = message("hi", brand_new_field={"x": 1})
    update["object"]["client_info"]["new_flag"] = True
    update["future"] = [1, 2]
    assert isinstance(parse_update(update, bot="b"), MessageNew)
    join = parse_update(envelope("group_join", {"user_id": 5, "join_type": "teleported"}), bot="b")
    assert isinstance(join, GroupJoin)
    assert join.join_type == "teleported"


def test_oldest_message_shape_with_body_user_id_and_chat_id() -> None:
    old = {"id": 1, "user_id": 5, "body": "hello", "read_state": 0, "chat_id": 4}
    event = parse_update(envelope("message_new", old), bot="b")
    assert isinstance(event, MessageNew)
    assert (event.text, event.user_id, event.peer_id, event.is_chat) == (
        "hello",
        5,
        2_000_000_004,
        True,
    )


def test_events_are_botrt_events() -> None:
    for event in (
        parse_update(message("x"), bot="b"),
        parse_update(envelope("group_leave", {"user_id": 1, "self": 0}), bot="b"),
        parse_update(envelope("whatever", {}), bot="b"),
    ):
        assert isinstance(event, Event)
        assert event.platform == "vk"
    leave = parse_update(envelope("group_leave", {"user_id": 1, "self": 0}), bot="b")
    assert isinstance(leave, GroupLeave)
    assert leave.self_left is False


@pytest.mark.parametrize(
    "update",
    [
        [],
        {"object": {}},
        {"type": "", "object": {}},
        {"type": "message_new"},
        {"type": "message_new", "object": "text"},
        {"type": "message_new", "object": {"message": {"text": "no author"}}},
        {"type": "message_new", "object": {"message": {"from_id": "x", "text": "t"}}},
        {"type": "message_event", "object": {"user_id": 1, "peer_id": 1}},
        {"type": "group_join", "object": {}},
        {"type": "group_leave", "object": {"user_id": True}},
        {"type": "wall_post_new", "object": {}, "group_id": "abc"},
    ],
)
def test_malformed_updates_raise_payload_error(update: Any) -> None:
    with pytest.raises(VkPayloadError):
        parse_update(update, bot="b")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("from_id", "x"),
        ("from_id", True),
        ("peer_id", "two"),
        ("peer_id", False),
        ("id", "x"),
        ("conversation_message_id", [1]),
    ],
)
def test_a_bad_message_field_is_named_at_parse_time(field: str, value: Any) -> None:
    update = message("/help")
    update["object"]["message"][field] = value
    with pytest.raises(VkPayloadError, match=repr(field)):
        parse_update(update, bot="b")


@pytest.mark.parametrize("group_id", ["x", True])
def test_a_bad_group_id_is_named_at_parse_time(group_id: Any) -> None:
    update = message("/help")
    update["group_id"] = group_id
    with pytest.raises(VkPayloadError, match="'group_id'"):
        parse_update(update, bot="b")


def _slots(event: object) -> dict[str, Any]:
    names = {n for cls in type(event).__mro__ for n in getattr(cls, "__slots__", ())}
    return {n: getattr(event, n) for n in sorted(names) if n != "time"}


@pytest.mark.parametrize(
    "extra",
    [
        {},
        # Numbers as strings and a payload as JSON text take the checked path.
        {"from_id": "7", "peer_id": "2000000001", "id": "3", "conversation_message_id": "4"},
        {"payload": '{"a": 1}', "attachments": [{"type": "photo"}]},
    ],
)
def test_a_parsed_message_is_what_its_constructor_makes(extra: dict[str, Any]) -> None:
    # `parse_update` builds MessageNew without `__init__` (it is on every event's path):
    # every attribute must come out as the constructor would set it.
    api = VkApi("t")
    update = message(f"[club{GROUP_ID}|@bot] /help", **extra)
    event = parse_update(update, bot="b", api=api)
    assert isinstance(event, MessageNew)
    built = MessageNew(
        "/help",
        raw_text=f"[club{GROUP_ID}|@bot] /help",
        user_id=7,
        peer_id=int(extra.get("peer_id", 7)),
        bot="b",
        message_id=3,
        conversation_message_id=int(extra["conversation_message_id"])
        if "conversation_message_id" in extra
        else None,
        attachments=extra.get("attachments", []),
        payload={"a": 1} if "payload" in extra else None,
        message=update["object"]["message"],
        client_info={},
        group_id=GROUP_ID,
        event_id="e" * 40,
        raw=update,
        api=api,
    )
    assert _slots(event) == _slots(built)
    assert isinstance(event.time, float)
    assert abs(event.time - built.time) < 60
    assert event.raw is not update
    assert event.message is not update["object"]["message"]


# -- mentions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (f"[club{GROUP_ID}|@bot] /help", "/help"),
        (f"[club{GROUP_ID}|Бот], /help me", "/help me"),
        (f"  [public{GROUP_ID}|@bot]: /h", "/h"),
        ("[club999|@other] /help", "[club999|@other] /help"),
        (f"hi [club{GROUP_ID}|@bot]", f"hi [club{GROUP_ID}|@bot]"),
        ("[id5|Vasya] /help", "[id5|Vasya] /help"),
    ],
)
def test_leading_mention_of_this_group_is_stripped(raw: str, text: str) -> None:
    event = parse_update(message(raw, peer_id=2_000_000_001), bot="b")
    assert isinstance(event, MessageNew)
    assert event.is_chat
    assert event.text == text
    assert event.raw_text == raw


def test_mention_kept_when_group_unknown() -> None:
    update = message(f"[club{GROUP_ID}|@bot] /help")
    del update["group_id"]
    event = parse_update(update, bot="b")
    assert isinstance(event, MessageNew)
    assert event.text == f"[club{GROUP_ID}|@bot] /help"


# -- splitting ---------------------------------------------------------------------


def test_split_message_keeps_short_text_whole() -> None:
    assert split_message("") == [""]
    assert split_message("a" * 4096) == ["a" * 4096]


def test_split_message_prefers_newlines_then_spaces_then_hard_cuts() -> None:
    text = "a" * 3000 + "\n" + "b" * 1000 + " " + "c" * 3000
    assert split_message(text) == ["a" * 3000, "b" * 1000 + " " + "c" * 3000]
    spaced = "word " * 2000
    pieces = split_message(spaced)
    assert all(len(p) <= 4096 for p in pieces)
    assert " ".join(pieces) == spaced
    assert split_message("x" * 9000) == ["x" * 4096, "x" * 4096, "x" * 808]
    # A separator right at the limit still gives a full-length piece.
    assert split_message("y" * 4096 + "\n" + "z") == ["y" * 4096, "z"]


def test_split_message_rejects_a_silly_limit() -> None:
    with pytest.raises(ValueError, match="limit"):
        split_message("x", 0)


# -- replies through FakeVK ------------------------------------------------------------


@pytest.mark.anyio
async def test_reply_sends_to_the_peer(vk: FakeVK, api: VkApi) -> None:
    event = parse_update(message("hi", from_id=5, peer_id=2_000_000_003), bot="b", api=api)
    assert isinstance(event, MessageNew)
    await event.reply("hello", attachment="photo1_2")
    (sent,) = vk.sent
    assert (sent.peer_id, sent.text, sent.attachment) == (2_000_000_003, "hello", "photo1_2")
    assert sent.random_id != 0


@pytest.mark.anyio
@pytest.mark.parametrize("coalesce", [True, False])
async def test_a_plain_reply_is_a_counted_send_with_its_own_random_id(
    vk: FakeVK, coalesce: bool
) -> None:
    # The usual reply (no options, one piece) takes VkApi's short way: it must still be
    # counted, get a fresh random_id each time, and keep the conversation's order.
    async with VkApi("t", api_url=vk.api_url, coalesce=coalesce) as api:
        vk.add_group(GROUP_ID + 1, token="t")
        for n in range(3):
            event = parse_update(message(f"/q{n}", from_id=5), bot="b", api=api)
            assert isinstance(event, MessageNew)
            await event.reply(f"answer {n}")
        assert api.stats.calls["messages.send"] == 3
    sent = vk.sent_to(5)
    assert [m.text for m in sent] == ["answer 0", "answer 1", "answer 2"]
    assert len({m.random_id for m in sent}) == 3
    assert all(0 < m.random_id < 2**31 for m in sent)


@pytest.mark.anyio
async def test_long_reply_is_split_and_attachment_goes_last(vk: FakeVK, api: VkApi) -> None:
    event = parse_update(message("hi", from_id=5), bot="b", api=api)
    assert isinstance(event, MessageNew)
    paragraph = "line of text\n" * 700  # 9100 characters
    await event.reply(paragraph, attachment="doc1_2", random_id=1000, disable_mentions=1)
    sent = vk.sent_to(5)
    assert len(sent) == 3
    assert all(len(m.text) <= 4096 for m in sent)
    # Cut at newlines, which are dropped at each cut: nothing else is lost.
    assert "\n".join(m.text for m in sent) == paragraph
    assert [m.attachment for m in sent] == [None, None, "doc1_2"]
    assert [m.random_id for m in sent] == [1000, 1001, 1002]
    assert all(m.params["disable_mentions"] == "1" for m in sent)


@pytest.mark.anyio
async def test_message_event_answer_and_snackbar(vk: FakeVK, api: VkApi) -> None:
    obj = {"user_id": 4, "peer_id": 4, "event_id": "0ae26189a432", "payload": {"x": 1}}
    event = parse_update(envelope("message_event", obj), bot="b", api=api)
    assert isinstance(event, MessageEvent)
    await event.answer()
    await event.show_snackbar("Готово")
    first, second = vk.event_answers
    assert (first.event_id, first.user_id, first.peer_id, first.event_data) == (
        "0ae26189a432",
        4,
        4,
        None,
    )
    assert second.event_data == {"type": "show_snackbar", "text": "Готово"}


@pytest.mark.anyio
async def test_reply_without_api_is_refused() -> None:
    event = parse_update(message("hi"), bot="b")
    assert isinstance(event, MessageNew)
    with pytest.raises(ReplyNotSupportedError, match="api="):
        await event.reply("x")
    obj = {"user_id": 4, "peer_id": 4, "event_id": "e"}
    press = parse_update(envelope("message_event", obj), bot="b")
    assert isinstance(press, MessageEvent)
    with pytest.raises(ReplyNotSupportedError):
        await press.show_snackbar("x")


def test_payload_in_update_round_trips_through_json() -> None:
    update = json.loads(json.dumps(message("x", payload={"k": [1, 2]})))
    event = parse_update(update, bot="b")
    assert isinstance(event, MessageNew)
    assert event.payload == {"k": [1, 2]}
