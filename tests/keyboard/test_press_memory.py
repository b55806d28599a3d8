"""Keyboards on the in-memory platform: `TestHost.press` for text and callback buttons."""

from __future__ import annotations

from typing import Any

import pytest

from botrt.adapter import ButtonEvent, Keyboard, TextEvent
from botrt.handle import on_command, on_event, on_text
from botrt.plugin import Messenger
from botrt.testing import TestHost
from botrt.testing import TestHostError as HostError  # not collected as a test class

pytestmark = pytest.mark.anyio

PAYLOADS: list[Any] = []


@on_command("vote")
async def vote(event: TextEvent) -> None:
    kb = Keyboard(one_time=True).button("Yes", {"vote": 1}, color="positive").button("No", 0)
    await event.reply("Vote?", keyboard=kb)


@on_command("like")
async def like(event: TextEvent) -> None:
    kb = Keyboard(inline=True).button("Like", {"like": 1}, callback=True).button("Skip", "skip")
    await event.reply("A post", keyboard=kb)


@on_command("announce")
async def announce(event: TextEvent, messenger: Messenger) -> None:
    kb = Keyboard(inline=True).button("Seen", {"seen": True})
    await messenger.send(event.bot, 42, "News", keyboard=kb)


@on_text()
async def echo_payload(event: TextEvent) -> None:
    if not event.text.startswith("/"):
        PAYLOADS.append(event.payload)
        await event.reply(f"got {event.text}")


@on_event(ButtonEvent)
async def pressed(event: ButtonEvent) -> None:
    await event.show_snackbar(f"liked {event.payload}")
    await event.edit("A post (liked)")


FLOWS = [vote, like, announce, echo_payload, pressed]


@pytest.fixture(autouse=True)
def _clear() -> None:
    PAYLOADS.clear()


async def test_typed_text_has_no_payload_and_a_pressed_button_has_its_own() -> None:
    async with TestHost(flows=FLOWS) as host:
        assert await host.send("hello") == ["got hello"]
        assert await host.send("/vote") == ["Vote?"]
        assert await host.press("Yes") == ["got Yes"]
        assert PAYLOADS == [None, {"vote": 1}]


async def test_a_one_time_keyboard_hides_after_a_press() -> None:
    async with TestHost(flows=FLOWS) as host:
        await host.send("/vote")
        await host.press("No")
        with pytest.raises(HostError, match="no keyboard sent to user 1 has a button 'Yes'"):
            await host.press("Yes")
        assert PAYLOADS == [0]


async def test_a_missing_label_names_the_buttons_there_are() -> None:
    async with TestHost(flows=FLOWS) as host:
        with pytest.raises(HostError, match="buttons there: none"):
            await host.press("Yes")
        await host.send("/like")
        with pytest.raises(HostError, match="buttons there: 'Like', 'Skip'"):
            await host.press("Dislike")


async def test_each_user_presses_only_their_own_keyboards() -> None:
    async with TestHost(flows=FLOWS) as host:
        await host.send("/vote", user_id=1)
        with pytest.raises(HostError, match="user 2"):
            await host.press("Yes", user_id=2)


async def test_a_callback_button_delivers_a_button_event_answered_with_snackbar_and_edit() -> None:
    async with TestHost(flows=FLOWS) as host:
        await host.send("/like")
        assert await host.press("Like") == []  # no message: the press is answered in place
        assert host.outbound.snackbars == [(1, "liked {'like': 1}")]
        post = host.outbound.messages[-1]
        assert (post.text, post.keyboard) == ("A post (liked)", None)  # the edit dropped it
        assert PAYLOADS == []  # no text message reached the text flow


async def test_an_inline_keyboard_stays_pressable_after_a_standard_one_replaced_others() -> None:
    async with TestHost(flows=FLOWS) as host:
        await host.send("/like")
        await host.send("/vote")
        await host.press("Skip")  # the older inline keyboard is still there
        assert PAYLOADS == ["skip"]


async def test_keyboards_sent_through_messenger_can_be_pressed_by_their_recipient() -> None:
    async with TestHost(flows=FLOWS) as host:
        await host.send("/announce")
        assert host.outbound.to(42) == ["News"]
        assert await host.press("Seen", user_id=42) == ["got Seen"]
        assert PAYLOADS == [{"seen": True}]


async def test_a_button_event_without_a_platform_answer_refuses_clearly() -> None:
    from botrt.adapter import ReplyNotSupportedError

    bare = ButtonEvent(user_id=1, peer_id=1, platform="nowhere", bot="b")
    for call in (bare.show_snackbar("x"), bare.edit("x"), bare.reply("x")):
        with pytest.raises(ReplyNotSupportedError, match="platform 'nowhere'"):
            await call
