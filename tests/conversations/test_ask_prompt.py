"""The prompt of a parked `ask()`: sent before the wait starts, however long sending takes.

A platform's reply usually waits for the network. The ask registers its
wait only once the prompt is sent, so an answer typed meanwhile is an
ordinary message (it waits its turn in the chat's lane); a prompt that
cannot be sent fails the ask like any error of the handler.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import pytest

from _served import bare_config, serving
from botrt.adapter import TextEvent
from botrt.handle import ask, on_command
from botrt.host import Host
from botrt.testing import MemoryEvent

pytestmark = pytest.mark.anyio


class SlowEvent(MemoryEvent):
    """A message whose replies wait for `sent` (the network), or fail when `broken`."""

    __slots__ = ("broken", "sent")

    def __init__(self, text: str, user_id: int, sent: anyio.Event, broken: bool) -> None:
        super().__init__(text, user_id=user_id)
        self.sent = sent
        self.broken = broken

    async def reply(self, text: str, **options: Any) -> None:
        await self.sent.wait()
        if self.broken:
            raise ConnectionError("the platform is unreachable")
        await super().reply(text, **options)


@on_command("twice")
async def twice(event: TextEvent) -> None:
    answer = await ask("first?")
    answer = await ask(f"got {answer.text}; second?")
    await answer.reply(f"done {answer.text}")


def served() -> AbstractAsyncContextManager[Host]:
    return serving(Host(bare_config(), entry_points=False), [twice])


async def say(host: Host, event: MemoryEvent) -> MemoryEvent:
    await host.submit(event)
    await anyio.wait_all_tasks_blocked()
    return event


async def test_a_prompt_that_takes_time_is_sent_before_the_ask_waits() -> None:
    sent = anyio.Event()
    async with served() as host:
        start = await say(host, SlowEvent("/twice", 1, sent, broken=False))
        early = await say(host, MemoryEvent("typed meanwhile", user_id=1))
        assert host.dispatcher.dialogues.waiting == {}  # the first prompt is not sent yet
        assert early.replies == []  # it waits its turn in the chat's lane
        sent.set()
        await anyio.wait_all_tasks_blocked()
        assert start.replies == ["first?"]
        # The message typed while the prompt was on its way answers it, in order.
        assert early.replies == ["got typed meanwhile; second?"]
        last = await say(host, MemoryEvent("b", user_id=1))
        assert last.replies == ["done b"]
        assert host.dispatcher.dialogues.waiting == {}


async def test_a_prompt_that_cannot_be_sent_fails_the_run_and_nothing_waits() -> None:
    sent = anyio.Event()
    async with served() as host:
        start = await say(host, SlowEvent("/twice", 1, sent, broken=True))
        sent.set()
        await anyio.wait_all_tasks_blocked()
        assert start.replies == []
        assert host.dispatcher.dialogues.waiting == {}
        # The user's next message is an ordinary one: no ask took it.
        again = await say(host, SlowEvent("/twice", 1, anyio.Event(), broken=False))
        again.sent.set()
        await anyio.wait_all_tasks_blocked()
        assert again.replies == ["first?"]
