"""Keyboards on VK: the JSON VK gets, FakeVK's checks (VK's 100/911), presses end to end."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import anyio
import pytest
from test_host_vk import bots_config, polling, serving
from vkhelpers import GROUP_ID, load_payload

from botrt.adapter import Keyboard
from botrt.protocols.vk import MessageEvent, MessageNew, VkApi, VkApiError, parse_update
from botrt.protocols.vk._outbound import VkOutbound
from botrt.testing._fakevk import FakeVK, FakeVKError

pytestmark = pytest.mark.anyio


def vote_keyboard() -> Keyboard:
    kb = Keyboard(one_time=True).button("Yes", {"v": 1}, color="positive").button("No", {"v": 0})
    return kb.row().button("Later")


async def test_a_keyboard_reaches_vk_as_its_keyboard_json(vk: FakeVK, api: VkApi) -> None:
    kb = vote_keyboard()
    await api.messages.send(peer_id=5, message="Vote?", keyboard=kb)
    (sent,) = vk.sent
    assert json.loads(sent.params["keyboard"]) == kb.to_vk()
    assert sent.keyboard == kb.to_vk()
    assert vk.buttons(5) == ["Yes", "No", "Later"]


def raw_keyboard(rows: list[list[dict[str, Any]]], **flags: Any) -> str:
    return json.dumps({**flags, "buttons": rows})


def text(label: str, **extra: Any) -> dict[str, Any]:
    return {"action": {"type": "text", "label": label, **extra.pop("action", {})}, **extra}


@pytest.mark.parametrize(
    ("keyboard", "detail"),
    [
        (raw_keyboard([[text(str(i)) for i in range(6)]]), "row 0 contains too much columns"),
        (raw_keyboard([[text(str(i))] for i in range(11)]), "too much rows: 11, max is 10"),
        (raw_keyboard([[text(str(i))] for i in range(7)], inline=True), "too much rows: 7, max"),
        (
            raw_keyboard([[text(f"{r}{c}") for c in range(5)] for r in range(9)]),
            "too much buttons: 45, max is 40",
        ),
        (
            raw_keyboard([[text(f"{r}{c}") for c in range(4)] for r in range(3)], inline=True),
            "too much buttons: 12, max is 10",
        ),
        (raw_keyboard([[text("x" * 41)]]), "label should be not more than 40"),
        (raw_keyboard([[text("")]]), "button [0][0] label should be at least 1 letters"),
        (
            raw_keyboard([[text("p", action={"payload": json.dumps("x" * 300)})]]),
            "payload should be not more than 255",
        ),
        (raw_keyboard([[text("p", action={"payload": "not json"})]]), "payload should be valid"),
        (raw_keyboard([[text("c", color="default")]]), "invalid color 'default'"),
        (raw_keyboard([[text("u", action={"url": "x"})]]), "action contains unknown fields"),
        (raw_keyboard([[]]), "row 0 is empty"),
        ('["buttons"]', "keyboard should be object"),
    ],
)
async def test_fakevk_refuses_a_keyboard_as_vk_does_with_911(
    vk: FakeVK, api: VkApi, keyboard: str, detail: str
) -> None:
    with pytest.raises(VkApiError) as caught:
        await api.messages.send(peer_id=5, message="x", keyboard=keyboard)
    assert caught.value.code == 911
    assert caught.value.message.startswith("Keyboard format is invalid: ")
    assert detail in caught.value.message
    assert vk.sent == []  # refused before anything was sent


async def test_a_keyboard_that_is_not_json_is_vks_error_100(vk: FakeVK, api: VkApi) -> None:
    with pytest.raises(VkApiError, match="keyboard contains incorrect JSON") as caught:
        await api.messages.send(peer_id=5, message="x", keyboard="{")
    assert caught.value.code == 100


async def test_the_limits_keyboard_enforces_are_the_ones_fakevk_accepts(
    vk: FakeVK, api: VkApi
) -> None:
    # The fullest keyboards `Keyboard` builds are accepted: its limits are not stricter.
    standard = Keyboard()
    for r in range(8):
        standard.row()
        for c in range(5):
            standard.button(f"{r}.{c}" + "x" * 36, "p" * 253, color="primary")
    inline = Keyboard(inline=True)
    for r in range(6):
        inline.row().button(f"r{r}", callback=True)
    inline.button("last")
    for kb in (standard, inline):
        await api.messages.send(peer_id=5, message="max", keyboard=kb)
    assert len(vk.sent) == 2


async def test_an_empty_keyboard_removes_the_chat_keyboard_and_inline_ones_stay(
    vk: FakeVK, api: VkApi
) -> None:
    await api.messages.send(peer_id=5, message="a", keyboard=Keyboard(inline=True).button("In"))
    await api.messages.send(peer_id=5, message="b", keyboard=Keyboard().button("Chat"))
    assert vk.buttons(5) == ["Chat", "In"]
    await api.messages.send(peer_id=5, message="c", keyboard=Keyboard().button("New"))
    assert vk.buttons(5) == ["New", "In"]
    await api.messages.send(peer_id=5, message="d", keyboard=Keyboard())
    assert vk.buttons(5) == ["In"]


async def test_pressing_a_text_button_sends_its_label_with_the_payload_string(
    vk: FakeVK, api: VkApi
) -> None:
    await api.messages.send(peer_id=5, message="Vote?", keyboard=vote_keyboard())
    update = vk.press(5, "Yes")
    message = update["object"]["message"]
    assert (update["type"], message["from_id"], message["text"]) == ("message_new", 5, "Yes")
    assert message["payload"] == '{"v":1}'  # VK sends the button's JSON string
    event = parse_update(update, bot="b")
    assert isinstance(event, MessageNew)
    assert event.payload == {"v": 1}
    # One-time: the keyboard is gone once pressed.
    with pytest.raises(FakeVKError, match="buttons there: none"):
        vk.press(5, "No")


async def test_a_press_names_the_buttons_there_are_and_who_presses_in_a_chat(
    vk: FakeVK, api: VkApi
) -> None:
    await api.messages.send(peer_id=2000000001, message="?", keyboard=vote_keyboard())
    with pytest.raises(FakeVKError, match="pass user_id="):
        vk.press(2000000001, "Yes")
    with pytest.raises(FakeVKError, match="buttons there: 'Yes', 'No', 'Later'"):
        vk.press(2000000001, "Maybe", user_id=7)
    update = vk.press(2000000001, "Later", user_id=7)
    assert update["object"]["message"]["from_id"] == 7
    assert "payload" not in update["object"]["message"]


async def test_pressing_a_callback_button_sends_a_message_event(vk: FakeVK, api: VkApi) -> None:
    kb = Keyboard(inline=True).button("Like", {"post": 3}, callback=True)
    await api.messages.send(peer_id=5, message="post", keyboard=kb)
    update = vk.make_press(5, "Like")
    obj = update["object"]
    assert update["type"] == "message_event"
    assert len(obj["event_id"]) == 12
    assert (obj["user_id"], obj["peer_id"], obj["payload"]) == (5, 5, {"post": 3})
    assert obj["conversation_message_id"] == vk.sent[0].conversation_message_id
    assert vk.longpoll_requests == 0  # make_press pushes nothing
    event = parse_update(update, bot="b", api=api)
    assert isinstance(event, MessageEvent)
    await event.show_snackbar("Liked")
    await event.edit("post (1 like)", keyboard=kb)
    (answer,) = vk.event_answers
    assert (answer.event_id, answer.event_data) == (
        obj["event_id"],
        {"type": "show_snackbar", "text": "Liked"},
    )
    (live,) = vk.messages
    assert (live.text, live.edits, live.keyboard) == ("post (1 like)", 1, kb.to_vk())
    await event.edit("post (closed)")
    assert (live.text, live.keyboard) == ("post (closed)", None)


async def test_a_snackbar_answer_over_vks_1000_characters_is_refused(
    vk: FakeVK, api: VkApi
) -> None:
    kb = Keyboard(inline=True).button("Like", callback=True)
    await api.messages.send(peer_id=5, message="post", keyboard=kb)
    event = parse_update(vk.make_press(5, "Like"), bot="b", api=api)
    assert isinstance(event, MessageEvent)
    with pytest.raises(VkApiError, match="event_data is longer than 1000") as caught:
        await event.show_snackbar("x" * 1000)
    assert caught.value.code == 100
    assert vk.event_answers == []


async def test_editing_a_message_that_is_not_there_is_an_error(vk: FakeVK, api: VkApi) -> None:
    with pytest.raises(VkApiError) as caught:
        await api.messages.edit(peer_id=5, conversation_message_id=99, message="x")
    assert caught.value.code == 100


async def test_a_keyboard_goes_with_the_last_part_of_a_long_reply_and_in_batches(
    vk: FakeVK, api: VkApi
) -> None:
    update = vk.build_message(GROUP_ID, 5, "hi")
    event = parse_update(update, bot="b", api=api)
    assert isinstance(event, MessageNew)
    await event.reply("word " * 1000, keyboard=Keyboard().button("Ok"))
    assert [m.keyboard is not None for m in vk.sent_to(5)] == [False, True]
    outcomes = await VkOutbound(api).send_many(
        [6, 7], "to all", key="job", keyboard=Keyboard(inline=True).button("Seen")
    )
    assert all(o.ok for o in outcomes)
    assert vk.buttons(6) == vk.buttons(7) == ["Seen"]


async def test_a_payload_that_is_not_json_is_kept_raw_and_logged_once(
    vk: FakeVK, caplog: pytest.LogCaptureFixture
) -> None:
    update = vk.build_message(GROUP_ID, 5, "Go", payload="go!")
    with caplog.at_level(logging.WARNING, logger="botrt.vk.events"):
        event = parse_update(update, bot="b")
    assert isinstance(event, MessageNew)
    assert event.payload == "go!"
    assert [r.getMessage() for r in caplog.records] == [
        "VK message_new: the button payload is not JSON; kept as the raw string 'go!'"
    ]


async def test_typed_text_has_no_payload_and_a_real_message_event_decodes() -> None:
    typed = parse_update(
        {"type": "message_new", "object": load_payload("07_message_new_object_real.json")},
        bot="b",
    )
    assert isinstance(typed, MessageNew)
    assert typed.payload is None
    obj = load_payload("09_message_event_object_real.json")
    pressed = parse_update({"type": "message_event", "object": obj}, bot="b")
    assert isinstance(pressed, MessageEvent)
    assert pressed.payload == {"command": "menu_section_queries"}
    as_string = parse_update(
        {"type": "message_event", "object": {**obj, "payload": json.dumps(obj["payload"])}},
        bot="b",
    )
    assert isinstance(as_string, MessageEvent)
    assert as_string.payload == pressed.payload


VOTE = """
from botrt import PluginPlanner
from botrt.adapter import ButtonEvent, Keyboard, TextEvent
from botrt.handle import on_command, on_event, on_text

PLUGIN = PluginPlanner(version="1.0.0")


@PLUGIN.use
@on_command("vote")
async def vote(event: TextEvent) -> None:
    kb = Keyboard(inline=True).button("Yes", {"v": 1}).button("Like", {"like": 1}, callback=True)
    await event.reply("Vote?", keyboard=kb)


@PLUGIN.use
@on_text(lambda text: not text.startswith("/"))
async def answer(event: TextEvent) -> None:
    await event.reply(f"{event.text}: {event.payload}")


@PLUGIN.use
@on_event(ButtonEvent)
async def liked(event: ButtonEvent) -> None:
    await event.show_snackbar(f"thanks for {event.payload['like']}")
    await event.edit("Vote? (liked)")
"""


async def test_presses_end_to_end_through_long_poll_and_callback(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        vk.add_group(10, token="token-a", members=[5])
        vk.add_group(20, token="token-b", members=[6])
        config = bots_config(
            vk,
            tmp_path,
            [
                {"name": "poller", "token": "token-a", "group_id": 10},
                {
                    "name": "hooked",
                    "token": "token-b",
                    "group_id": 20,
                    "transport": "callback",
                    "path": "/vk/hooked",
                    "secret": "s",
                    "confirmation": "c",
                },
            ],
        )
        vote = tmp_path / "plugins" / "vote"
        vote.mkdir()
        (vote / "__plugin__.py").write_text(VOTE, encoding="utf-8")
        async with serving(config) as host:
            await polling(vk)
            vk.push_message(10, from_id=5, text="/vote")
            with anyio.fail_after(10):
                await vk.wait_for(lambda: vk.buttons(5, group_id=10) == ["Yes", "Like"])
            vk.press(5, "Yes", group_id=10)
            vk.press(5, "Like", group_id=10)
            with anyio.fail_after(10):
                await vk.wait_for(lambda: len(vk.sent_to(5)) == 2 and bool(vk.event_answers))
            assert [m.text for m in vk.sent_to(5)] == ["Vote?", "Yes: {'v': 1}"]
            assert vk.event_answers[0].event_data == {
                "type": "show_snackbar",
                "text": "thanks for 1",
            }
            with anyio.fail_after(10):
                await vk.wait_for(lambda: vk.messages[0].edits == 1)
            assert (vk.messages[0].text, vk.messages[0].keyboard) == ("Vote? (liked)", None)

            with anyio.fail_after(10):
                while host.web.runner is None:
                    await anyio.lowlevel.checkpoint()
            url = f"http://127.0.0.1:{host.web.port}/vk/hooked"
            await vk.deliver_callback(url, vk.build_message(20, 6, "/vote"), secret="s")
            with anyio.fail_after(10):
                await vk.wait_for(lambda: bool(vk.buttons(6, group_id=20)))
            press = vk.make_press(6, "Yes", group_id=20)
            (answer,) = await vk.deliver_callback(url, press, secret="s")
            assert answer.text == "ok"
            with anyio.fail_after(10):
                await vk.wait_for(lambda: len(vk.sent_to(6)) == 2)
            assert vk.sent_to(6)[1].text == "Yes: {'v': 1}"
