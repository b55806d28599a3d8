"""`Conversation` and `on_state` on a real host: a dialogue, cancel words, expiry, bad input."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from statekit import START, form_plugin, host_on, statements

from botrt.storage import StorageError
from botrt.storage._internal import StateRows
from botrt.testing import ManualClock, MemoryEvent, TestHost

pytestmark = pytest.mark.anyio


async def send_in(host: TestHost, text: str, *, user_id: int = 1, peer_id: int) -> list[str]:
    event = MemoryEvent(text, user_id=user_id)
    event.peer_id = peer_id
    return await host.emit(event)


async def test_a_dialogue_over_several_messages(tmp_path: Path) -> None:
    async with host_on(form_plugin(tmp_path), tmp_path / "bot.db") as host:
        assert await host.send("hello") == ["text:hello"]
        assert await host.send("/register") == ["Your name?"]
        assert await host.send("Ann") == ["Your age?"]
        assert await host.send("/whoami") == ["Ann, /whoami"]  # the state's, not the command's
        assert await host.send("hello") == ["text:hello"]
        assert await host.send("/whoami") == ["None []"]


async def test_other_users_and_chats_are_not_in_the_state(tmp_path: Path) -> None:
    async with host_on(form_plugin(tmp_path), tmp_path / "bot.db") as host:
        assert await host.send("/register", user_id=1) == ["Your name?"]
        assert await host.send("hi", user_id=2) == ["text:hi"]
        assert await send_in(host, "hi", user_id=1, peer_id=2000000001) == ["text:hi"]
        assert await send_in(host, "/register", user_id=2, peer_id=2000000001) == ["Your name?"]
        assert await host.send("Ann", user_id=1) == ["Your age?"]
        assert await send_in(host, "Bob", user_id=2, peer_id=2000000001) == ["Your age?"]
        assert await host.send("Bob", user_id=2) == ["text:Bob"]


async def test_a_cancel_word_clears_the_state_and_says_so(tmp_path: Path) -> None:
    async with host_on(form_plugin(tmp_path), tmp_path / "bot.db") as host:
        assert await host.send("/register") == ["Your name?"]
        assert await host.send("  /CANCEL ") == ["The conversation was cancelled."]
        assert await host.send("Ann") == ["text:Ann"]
        assert await host.send("/whoami") == ["None []"]


async def test_the_cancel_reply_is_in_the_bot_language(tmp_path: Path) -> None:
    config = {"bot": {"language": "ru"}, "conversations": {"cancel": ["стоп"]}}
    async with host_on(form_plugin(tmp_path), tmp_path / "bot.db", **config) as host:
        assert await host.send("/register") == ["Your name?"]
        assert await host.send("/cancel") == ["Your age?"]  # not a cancel word here
        assert await host.send("СТОП") == ["Разговор отменён."]


async def test_a_cancel_word_without_a_state_is_dispatched_as_usual(tmp_path: Path) -> None:
    async with host_on(form_plugin(tmp_path), tmp_path / "bot.db") as host:
        assert await host.send("/cancel") == ["nothing to cancel"]


async def test_a_state_no_flow_handles_is_logged_once_and_cleared(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with host_on(form_plugin(tmp_path), tmp_path / "bot.db") as host:
        caplog.set_level(logging.WARNING, logger="botrt.conversations")
        assert await host.send("/ghost", user_id=1) == ["boo"]
        assert await host.send("/ghost", user_id=2) == ["boo"]
        assert await host.send("hi", user_id=1) == ["text:hi"]
        assert await host.send("hi", user_id=2) == ["text:hi"]
        warnings = [r for r in caplog.records if "on_state('ghost')" in r.getMessage()]
        assert len(warnings) == 1
        assert "'form'" in warnings[0].getMessage()
        assert await host.send("/whoami", user_id=1) == ["None []"]
        assert len(host.host.dispatcher.states or ()) == 0


async def test_data_that_is_not_json_is_refused_at_set_naming_the_key(tmp_path: Path) -> None:
    async with host_on(form_plugin(tmp_path), tmp_path / "bot.db") as host:
        replies = await host.send("/bad")
        assert replies[0].startswith("refused: Conversation.set: data when={1, 2} cannot be")
        assert replies[1] == "state: None"
        assert await host.send("Ann") == ["text:Ann"]


async def test_a_state_expires_after_state_ttl_without_a_message(tmp_path: Path) -> None:
    clock = ManualClock(START)
    config = {"storage": {"url": f"sqlite:///{tmp_path / 'bot.db'}"}}
    config["conversations"] = {"state_ttl": 60}
    async with TestHost(plugins=[form_plugin(tmp_path)], config=config, clock=clock) as host:
        assert await host.send("/wait") == ["waiting"]
        clock.advance(START + dt.timedelta(seconds=50))
        assert await host.send("x") == ["still waiting"]
        clock.advance(START + dt.timedelta(seconds=100))  # 50 s after the last message
        assert await host.send("x") == ["still waiting"]
        clock.advance(START + dt.timedelta(seconds=161))
        assert await host.send("x") == ["text:x"]
        assert await host.send("/whoami") == ["None []"]


async def test_messages_from_users_without_a_state_cost_no_query(tmp_path: Path) -> None:
    async with host_on(form_plugin(tmp_path), tmp_path / "bot.db") as host:
        assert await host.send("/register", user_id=1) == ["Your name?"]
        with statements(host) as seen:
            for user in range(2, 50):
                assert await host.send("hi", user_id=user) == ["text:hi"]
                assert await host.send("/whoami", user_id=user) == ["None []"]
            assert await send_in(host, "hi", user_id=1, peer_id=77) == ["text:hi"]
        assert seen == []
        with statements(host) as seen:
            assert await host.send("Ann", user_id=1) == ["Your age?"]
        assert seen  # a user in a state: the state flow writes


async def test_a_state_flow_still_gets_its_message_when_the_expiry_cannot_be_renewed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with host_on(form_plugin(tmp_path), tmp_path / "bot.db") as host:
        assert await host.send("/wait") == ["waiting"]

        async def unreachable(*args: object) -> None:
            raise StorageError("cannot connect to the database")

        monkeypatch.setattr(StateRows, "touch", unreachable)
        assert await host.send("x") == ["still waiting"]
        assert "could not renew the conversation state" in caplog.text
