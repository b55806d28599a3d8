""" "typing..." while a VK command runs (SPEC §11): after a delay, once, never in flooded chats.

Time is a `ManualTimers` the test moves; VK is FakeVK, which records every
`messages.setActivity` it accepts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from test_host_vk import bots_config, polling, serving
from vkhelpers import GROUP_ID

from botrt.protocols.vk import MessageNew, VkApi, parse_update
from botrt.protocols.vk._hooks import MemberTracker
from botrt.protocols.vk._typing import FLOOD_MESSAGES, FLOOD_SECONDS, TYPING_DELAY, Typing
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio

CHAT = 2_000_000_007


class Handle:
    """What `ManualTimers.call_later` returns."""

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualTimers:
    """A `Timers` that moves only when the test calls `advance`; due callbacks run then."""

    def __init__(self) -> None:
        self.moment = 0.0
        self.pending: list[Handle] = []
        self.armed = 0  # call_later calls

    def now(self) -> float:
        return self.moment

    def call_later(self, delay: float, callback: Callable[[], None]) -> Handle:
        handle = Handle(self.moment + delay, callback)
        self.pending.append(handle)
        self.armed += 1
        return handle

    def advance(self, seconds: float) -> None:
        self.moment += seconds
        due = [h for h in self.pending if h.when <= self.moment]
        self.pending = [h for h in self.pending if h.when > self.moment]
        for handle in due:
            if not handle.cancelled:
                handle.callback()


class Setup:
    """A `Typing` on manual time, and events from FakeVK's updates with a real `VkApi`."""

    def __init__(self, vk: FakeVK, api: VkApi) -> None:
        self.vk = vk
        self.api = api
        self.timers = ManualTimers()
        self.running: set[int] = set()  # conversations "the host" is handling
        self.typing = Typing(
            busy=lambda e: e.peer_id in self.running, prefixes=lambda: ("/",), timers=self.timers
        )

    def message(self, text: str, *, peer_id: int | None = None, from_id: int = 5) -> MessageNew:
        update = self.vk.build_message(GROUP_ID, from_id, text, peer_id=peer_id)
        event = parse_update(update, bot="b", api=self.api)
        assert isinstance(event, MessageNew)
        return event

    def command(self, text: str = "/slow", **kwargs: Any) -> MessageNew:
        """A command arrives and its handling starts."""
        event = self.message(text, **kwargs)
        self.typing.arm(event)
        self.running.add(event.peer_id)
        return event

    async def activities(self, count: int) -> list[tuple[int, str]]:
        with anyio.fail_after(10):
            await self.vk.wait_for(lambda: len(self.vk.activities) >= count)
        return [(a.peer_id, a.type) for a in self.vk.activities]


@pytest.fixture
def setup(vk: FakeVK, api: VkApi) -> Setup:
    return Setup(vk, api)


async def test_a_slow_command_shows_typing_once_after_the_delay(setup: Setup) -> None:
    event = setup.command()
    setup.timers.advance(TYPING_DELAY - 0.01)
    assert setup.vk.calls["messages.setActivity"] == 0
    setup.timers.advance(0.01)
    assert await setup.activities(1) == [(5, "typing")]
    setup.timers.advance(60)  # however long it runs: one call
    await event.reply("done")
    assert setup.vk.calls["messages.setActivity"] == 1
    assert setup.typing.shown == 1
    assert [m.text for m in setup.vk.sent_to(5)] == ["done"]


async def test_an_answer_within_the_delay_shows_nothing(setup: Setup) -> None:
    event = setup.command()
    await event.reply("quick")
    setup.timers.advance(TYPING_DELAY * 5)
    assert setup.typing.shown == 0
    assert setup.vk.calls["messages.setActivity"] == 0


async def test_answered_commands_cost_no_timer_each(setup: Setup) -> None:
    # A busy bot answers every command at once: the timer must not be set again
    # for each of them (it was: one `call_later` per command, a tenth of an event's cost).
    for _ in range(50):
        quick = setup.command("/quick", from_id=6)
        await quick.reply("ok")
        setup.timers.advance(0.01)
    slow = setup.command()
    for _ in range(100):  # through every quick command's deadline, to the slow one's
        setup.timers.advance(0.01)
    assert await setup.activities(1) == [(5, "typing")]
    assert setup.typing.shown == 1
    assert setup.timers.armed <= 2  # the first command's timer, then the slow one's
    assert [m.text for m in setup.vk.sent_to(6)] == ["ok"] * 50
    await slow.reply("done")


async def test_a_command_that_ended_without_answering_shows_nothing(setup: Setup) -> None:
    event = setup.command()
    setup.running.discard(event.peer_id)
    setup.timers.advance(TYPING_DELAY)
    assert setup.typing.shown == 0


async def test_plain_messages_arm_nothing(setup: Setup) -> None:
    setup.typing.arm(setup.message("hello there"))
    setup.running.add(5)
    assert setup.timers.pending == []


async def test_a_flooded_group_chat_gets_no_typing_until_it_calms_down(setup: Setup) -> None:
    for i in range(FLOOD_MESSAGES - 1):
        setup.typing.arm(setup.message(f"chatter {i}", peer_id=CHAT, from_id=100 + i))
    flooded = setup.command(peer_id=CHAT)  # the 10th message within 10 s
    assert setup.timers.pending == []
    assert setup.typing.flooded == 1
    await flooded.reply("done")
    setup.timers.advance(FLOOD_SECONDS)
    calm = setup.command(peer_id=CHAT)  # the other nine are older than the window now
    setup.timers.advance(TYPING_DELAY)
    assert await setup.activities(1) == [(CHAT, "typing")]
    await calm.reply("done")


async def test_a_private_chat_is_never_flooded(setup: Setup) -> None:
    for i in range(FLOOD_MESSAGES * 3):
        setup.typing.arm(setup.message(f"spam {i}"))
    setup.command()
    setup.timers.advance(TYPING_DELAY)
    assert await setup.activities(1) == [(5, "typing")]


async def test_a_reply_while_the_call_is_on_its_way_cancels_it(setup: Setup) -> None:
    setup.vk.hold("messages.setActivity")
    event = setup.command()
    setup.timers.advance(TYPING_DELAY)
    with anyio.fail_after(10):
        await setup.vk.wait_for(lambda: setup.vk.calls["messages.setActivity"] == 1)
    call = event._typing
    assert isinstance(call, asyncio.Task)
    await event.reply("done")
    with anyio.fail_after(10):  # VK still holds the request: only the cancel ends the call
        await asyncio.wait([call])
    assert call.cancelled()
    assert setup.typing.shown == 1
    setup.vk.release("messages.setActivity")


async def test_a_real_host_shows_typing_for_its_slow_command(tmp_path: Path) -> None:
    """The hook path: `botrt_event_received` arms it, `MessageNew.reply` ends it."""
    async with FakeVK() as vk:
        vk.add_group(10, token="token-a", members=[5])
        vk.add_user(5, "Ann", "Lee")
        config = bots_config(vk, tmp_path, [{"name": "g10", "token": "token-a", "group_id": 10}])
        async with serving(config) as host:
            timers = ManualTimers()
            middleware = host.pm.get_plugin(MemberTracker.name)
            assert isinstance(middleware, MemberTracker)
            assert middleware.typing is not None
            middleware.typing.timers = timers
            await polling(vk)
            vk.push_message(10, from_id=5, text="/echo fast")
            with anyio.fail_after(10):
                await vk.wait_for(lambda: len(vk.sent_to(5)) == 1)
            vk.hold("users.get")  # `/who` waits for VK: a slow command
            vk.push_message(10, from_id=5, text="/who")
            with anyio.fail_after(10):
                await vk.wait_for(lambda: vk.calls["users.get"] == 1)
            timers.advance(TYPING_DELAY)  # /echo's timer was cancelled; /who's fires
            with anyio.fail_after(10):
                await vk.wait_for(lambda: len(vk.activities) == 1)
            vk.release("users.get")
            with anyio.fail_after(10):
                await vk.wait_for(lambda: len(vk.sent_to(5)) == 2)
            timers.advance(60)
        assert [(a.group_id, a.peer_id, a.type) for a in vk.activities] == [(10, 5, "typing")]
        assert [m.text for m in vk.sent_to(5)] == ["fast", "Ann in g10, chat=False"]
