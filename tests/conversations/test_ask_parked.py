"""A waiting `ask()` on a served host is parked: no task, and every way out of the wait works."""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from _served import bare_config, serving
from botrt.adapter import TextEvent
from botrt.handle import ConversationEnded, ConversationTimeout, ask, get_event, on_command
from botrt.host import Host
from botrt.testing import ManualClock, MemoryEvent

pytestmark = pytest.mark.anyio

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TAG: contextvars.ContextVar[str] = contextvars.ContextVar("tag", default="unset")
CLOSED: list[int] = []


@on_command("loop")
async def loop(event: TextEvent) -> None:
    TAG.set(f"user{event.user_id}")
    answer = await ask("first?")
    for _ in range(2):
        # The run's context and flow state survive each park: set before, seen after.
        assert get_event() is event
        answer = await ask(f"{TAG.get()} got {answer.text}")
    await answer.reply(f"done {answer.text}")


@on_command("patient")
async def patient(event: TextEvent) -> None:
    try:
        await ask("waiting", timeout=30)
    except ConversationTimeout:
        await event.reply("timed out; again?")
        answer = await ask("again", timeout=30)
        await answer.reply("back: " + answer.text)


@on_command("forever")
async def forever(event: TextEvent) -> None:
    try:
        await ask("?")
    finally:
        CLOSED.append(event.user_id)


STUBBORN: list[str] = []


@on_command("stubborn")
async def stubborn(event: TextEvent) -> None:
    try:
        await ask("?")
    except ConversationEnded as first:
        STUBBORN.append(type(first).__name__)
        try:
            await ask("still there?")  # the host stops: this ask ends at once
        except ConversationEnded as second:
            STUBBORN.append(type(second).__name__)
            raise


@on_command("hang")
async def hang(event: TextEvent) -> None:
    await anyio.Event().wait()


GATES: list[anyio.Event] = []


@on_command("gated")
async def gated(event: TextEvent) -> None:
    answer = await ask("first?")
    await GATES[-1].wait()  # the answer's handling suspends before the run asks again
    answer = await ask(f"got {answer.text}")
    await answer.reply(f"done {answer.text}")


@asynccontextmanager
async def served(
    clock: ManualClock | None = None, drain_grace: float | None = None
) -> AsyncIterator[Host]:
    host = Host(bare_config(), entry_points=False)
    if clock is not None:
        host.info.clock = clock
    if drain_grace is not None:
        host.drain_grace = drain_grace  # read when serving starts
    async with serving(host, [loop, patient, forever, stubborn, hang, gated]):
        yield host


async def say(host: Host, text: str, user_id: int) -> MemoryEvent:
    ev = MemoryEvent(text, user_id=user_id)
    await host.submit(ev)
    await anyio.wait_all_tasks_blocked()
    return ev


async def test_waiting_asks_keep_no_task_and_resume_in_their_own_context() -> None:
    async with served() as host:
        await say(host, "/loop", user_id=1)
        tasks = len(asyncio.all_tasks())
        firsts = [await say(host, "/loop", user_id=u) for u in range(2, 22)]
        assert [ev.replies for ev in firsts] == [["first?"]] * 20
        assert len(host.dispatcher.dialogues.waiting) == 21
        assert len(asyncio.all_tasks()) == tasks  # twenty more waiting asks, no task more
        for u in range(1, 22):
            assert (await say(host, "a", user_id=u)).replies == [f"user{u} got a"]
        for u in range(1, 22):
            assert (await say(host, "b", user_id=u)).replies == [f"user{u} got b"]
        for u in range(1, 22):
            assert (await say(host, "c", user_id=u)).replies == ["done c"]
        assert host.dispatcher.dialogues.waiting == {}


async def test_an_answer_whose_run_suspends_is_driven_on_by_the_answers_lane() -> None:
    # The answer's lane takes the resumed run's first step at once; when that step
    # suspends, the lane drives the rest, and the chat's next message waits its turn.
    GATES.append(anyio.Event())
    async with served() as host:
        assert (await say(host, "/gated", user_id=1)).replies == ["first?"]
        answer = await say(host, "a", user_id=1)
        later = await say(host, "b", user_id=1)
        assert answer.replies == []
        assert later.replies == []
        assert host.dispatcher.dialogues.waiting == {}  # the run is between its asks
        GATES[-1].set()
        await anyio.wait_all_tasks_blocked()
        assert answer.replies == ["got a"]
        assert later.replies == ["done b"]  # it answered the second ask, in order
        assert host.dispatcher.dialogues.waiting == {}
        assert (await say(host, "/gated", user_id=1)).replies == ["first?"]


async def test_a_parked_run_times_out_and_can_ask_again() -> None:
    clock = ManualClock(START)
    async with served(clock) as host:
        first = await say(host, "/patient", user_id=1)
        assert first.replies == ["waiting"]
        clock.advance(START + dt.timedelta(seconds=31))
        await anyio.wait_all_tasks_blocked()  # the sweeper resumed the run: it asks again
        assert first.replies == ["waiting", "timed out; again?", "again"]
        assert len(host.dispatcher.dialogues.waiting) == 1
        assert (await say(host, "yes", user_id=1)).replies == ["back: yes"]
        assert host.dispatcher.dialogues.waiting == {}


async def test_a_cancel_word_ends_a_parked_run(caplog: pytest.LogCaptureFixture) -> None:
    async with served() as host:
        await say(host, "/forever", user_id=5)
        cancel = await say(host, "/cancel", user_id=5)
        assert cancel.replies == ["The conversation was cancelled."]
        assert CLOSED[-1:] == [5]
        assert host.dispatcher.dialogues.waiting == {}
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_a_hard_stop_closes_parked_runs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "botrt")
    CLOSED.clear()
    host: Any
    # The hung run below outlives the grace: the lanes are cancelled.
    async with served(drain_grace=0.2) as host:
        await say(host, "/hang", user_id=1)
        await say(host, "/forever", user_id=2)
        assert len(host.dispatcher.dialogues.waiting) == 1
    # The parked run was closed: its `finally` ran, and it waits no more.
    assert CLOSED == [2]
    assert host.dispatcher.dialogues.waiting == {}


async def test_a_run_that_asks_again_once_the_stop_ended_its_wait_ends_at_once() -> None:
    STUBBORN.clear()
    async with served() as host:
        first = await say(host, "/stubborn", user_id=3)
        assert first.replies == ["?"]
    assert STUBBORN == ["ConversationEnded", "ConversationEnded"]
    assert host.dispatcher.dialogues.waiting == {}
    restart = (
        "The conversation was interrupted: the bot is restarting. Please start again in a minute."
    )
    assert first.replies == ["?", "still there?", restart]


async def test_the_sweeper_ends_once_the_last_parked_ask_is_answered() -> None:
    clock = ManualClock(START)
    async with served(clock) as host:
        others = len(clock.sleepers)  # the host's own (its scheduler)
        await say(host, "/loop", user_id=1)
        await clock.wait_sleeping(others + 1)
        for text in ("a", "b"):  # answered, and the run asks again: the sweeper stays
            await say(host, text, user_id=1)
            assert len(clock.sleepers) == others + 1
        assert (await say(host, "c", user_id=1)).replies == ["done c"]
        await clock.wait_sleeping(others)  # the run ended: nothing waits
