"""broadcast with ``confirm = true``: recipients, a preview, Send / Cancel, and only Send sends."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import anyio
import pytest
from test_broadcast import BROADCAST, fill, idle, messages, roster
from test_broadcast_vk import ADMIN, GROUP, community, config_for, serving, wait_report

from botrt.plugin import PluginLoadError
from botrt.testing import FakeVK, ManualClock, MemoryEvent, TestHost

pytestmark = pytest.mark.anyio

CONFIRM = {"plugins": {"settings": {"broadcast": {"confirm": True}}}}
QUESTION = 'Send this broadcast to 4 recipients?\n"Exam moved to Friday"'


async def test_send_starts_the_broadcast_and_nothing_goes_out_before() -> None:
    async with TestHost(plugins=[BROADCAST], config=CONFIRM) as host:
        await fill(host, roster(3))
        assert await host.send("/mb Exam moved to Friday", role="admin") == [QUESTION]
        (asked,) = host.outbound.keyboards(1)
        assert asked.keyboard is not None
        assert asked.keyboard.inline
        assert [b.label for b in asked.keyboard] == ["Send", "Cancel"]
        assert messages(host.outbound, "Exam moved to Friday") == {}
        assert await host.press("Send", role="admin") == ["Broadcast #1 started: 4 recipients."]
        await idle(host)
        assert set(messages(host.outbound, "Exam moved to Friday").values()) == {1}
        assert len(messages(host.outbound, "Exam moved to Friday")) == 4


async def test_cancel_a_cancel_word_or_any_other_answer_sends_nothing() -> None:
    async with TestHost(plugins=[BROADCAST], config=CONFIRM) as host:
        await fill(host, roster(3))
        nothing = ["Broadcast cancelled: nothing was sent."]
        await host.send("/mb Exam moved to Friday", role="admin")
        assert await host.press("Cancel", role="admin") == nothing
        await host.send("/ma Exam moved to Friday", role="admin")
        assert await host.send("/cancel", role="admin") == nothing
        await host.send("/mb Exam moved to Friday", role="admin")
        assert await host.send("hmm, wait", role="admin") == nothing
        assert messages(host.outbound, "Exam moved to Friday") == {}
        (status,) = await host.send("/mb status", role="admin")
        assert "#1" not in status  # no job was stored


async def test_a_timeout_sends_nothing() -> None:
    start = dt.datetime(2026, 9, 1, 9, 0, tzinfo=dt.UTC)
    clock = ManualClock(start)
    config = {**CONFIRM, "conversations": {"timeout": 60}}
    async with TestHost(plugins=[BROADCAST], config=config, clock=clock) as host:
        await fill(host, roster(3))
        command = MemoryEvent("/mb Exam", role="admin", outbound=host.outbound)
        await host.emit(command)
        clock.advance(start + dt.timedelta(seconds=61))
        await host.settle()
        assert command.replies == [
            'Send this broadcast to 4 recipients?\n"Exam"',
            "No answer came in time: the broadcast was not sent.",
        ]
        assert messages(host.outbound, "Exam") == {}


async def test_off_by_default_and_scheduled_broadcasts_are_not_asked_about() -> None:
    async with TestHost(plugins=[BROADCAST]) as host:
        await fill(host, roster(3))
        assert await host.send("/mb Exam moved to Friday", role="admin") == [
            "Broadcast #1 started: 4 recipients."
        ]
    async with TestHost(plugins=[BROADCAST], config=CONFIRM) as host:
        await fill(host, roster(3))
        (reply,) = await host.send('/mb --at "2099-01-01 10:00" Later', role="admin")
        assert reply.startswith("Broadcast #1 scheduled for 2099-01-01 10:00")


async def test_russian_question_with_plurals() -> None:
    config = {**CONFIRM, "bot": {"language": "ru"}}
    async with TestHost(plugins=[BROADCAST], config=config) as host:
        await fill(host, roster(20))  # and the admin: 21 recipients
        assert await host.send("/рассылка Экзамен", role="admin") == [
            'Отправить рассылку 21 получателю?\n"Экзамен"'
        ]
        assert await host.press("Отмена", role="admin") == [
            "Рассылка отменена: ничего не отправлено."
        ]


async def test_a_confirm_that_is_not_a_boolean_refuses_the_plugin() -> None:
    config = {"plugins": {"settings": {"broadcast": {"confirm": "yes"}}}}
    with pytest.raises(PluginLoadError, match="confirm"):
        async with TestHost(plugins=[BROADCAST], config=config):
            pass


async def test_send_pressed_on_vk_reaches_every_member(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        people = community(vk, range(2000, 2010))
        config = config_for(vk, tmp_path, {"confirm": True})
        async with serving(config, vk):
            vk.push_message(GROUP, ADMIN, "/mb Exam moved to Friday")
            with anyio.fail_after(10):
                await vk.wait_for(lambda: bool(vk.sent_to(ADMIN)))
            assert vk.sent_to(ADMIN)[0].text == (
                'Send this broadcast to 11 recipients?\n"Exam moved to Friday"'
            )
            assert vk.buttons(ADMIN) == ["Send", "Cancel"]  # VK accepted the keyboard
            vk.press(ADMIN, "Send")
            await wait_report(vk)
        got = Counter(m.peer_id for m in vk.sent if m.text == "Exam moved to Friday")
        assert got == Counter(people)
        assert vk.sent_to(ADMIN)[1].text == "Broadcast #1 started: 11 recipients."
