"""`ask()` on a served host: waiting holds no slot, no lane of others, no reload; a stop tells."""

from __future__ import annotations

import logging
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from _served import bare_config, serving
from botrt.adapter import TextEvent
from botrt.handle import ask, on_command
from botrt.host import Host
from botrt.testing import MemoryEvent, TestHost

pytestmark = pytest.mark.anyio

GROUP = 2000000001


@on_command("quiz")
async def quiz(event: TextEvent) -> None:
    answer = await ask("What is 2+2?")
    await answer.reply("Right!" if answer.text == "4" else "No: 4.")


@on_command("ping")
async def ping(event: TextEvent) -> None:
    await event.reply("pong")


class SmallHost(Host):
    """A host with room for 4 events at once."""

    max_pending = 4


def message(text: str, user_id: int, peer_id: int | None = None) -> MemoryEvent:
    ev = MemoryEvent(text, user_id=user_id)
    if peer_id is not None:
        ev.peer_id = peer_id
    return ev


@asynccontextmanager
async def served(**config: Any) -> AsyncIterator[Host]:
    async with serving(SmallHost(bare_config(**config), entry_points=False), [quiz, ping]) as host:
        yield host


async def test_fifty_waiting_users_hold_none_of_four_slots() -> None:
    async with served() as host:
        users = [message("/quiz", user_id=100 + i) for i in range(50)]
        for ev in users:
            await host.submit(ev)
        await anyio.wait_all_tasks_blocked()
        assert all(ev.replies == ["What is 2+2?"] for ev in users)
        assert len(host.dispatcher.dialogues.waiting) == 50
        stats = host._intake.statistics()
        assert (stats.running, stats.queued, stats.lanes) == (0, 0, 0)
        other = message("/ping", user_id=7)
        await host.submit(other)
        await anyio.wait_all_tasks_blocked()
        assert other.replies == ["pong"]
        answers = [message("4", user_id=100 + i) for i in range(50)]
        for ev in answers:
            await host.submit(ev)
        await anyio.wait_all_tasks_blocked()
        assert all(ev.replies == ["Right!"] for ev in answers)
        assert host.dispatcher.dialogues.waiting == {}
        assert host._intake.statistics().running == 0


async def test_others_in_the_group_chat_are_served_while_one_user_waits() -> None:
    async with served() as host:
        asking = message("/quiz", user_id=1, peer_id=GROUP)
        behind = message("/ping", user_id=2, peer_id=GROUP)
        # Both taken at once: the second waits in the chat's lane behind the first.
        await host.submit(asking)
        await host.submit(behind)
        await anyio.wait_all_tasks_blocked()
        assert asking.replies == ["What is 2+2?"]
        assert behind.replies == ["pong"]
        later = message("/ping", user_id=3, peer_id=GROUP)
        await host.submit(later)
        await anyio.wait_all_tasks_blocked()
        assert later.replies == ["pong"]
        # The same user elsewhere is not answering.
        elsewhere = message("/ping", user_id=1)
        await host.submit(elsewhere)
        await anyio.wait_all_tasks_blocked()
        assert elsewhere.replies == ["pong"]
        assert len(host.dispatcher.dialogues.waiting) == 1


async def test_the_answer_and_what_follows_it_keep_their_order() -> None:
    order: list[str] = []

    @on_command("note")
    async def note(event: TextEvent) -> None:
        order.append(event.text)

    async with served() as host:
        host.dispatcher.add(note)
        await host.submit(message("/quiz", user_id=1, peer_id=GROUP))
        await anyio.wait_all_tasks_blocked()
        answer = message("4", user_id=1, peer_id=GROUP)
        after = message("/note after", user_id=1, peer_id=GROUP)
        await host.submit(answer)
        await host.submit(after)
        await anyio.wait_all_tasks_blocked()
        assert answer.replies == ["Right!"]
        assert order == ["/note after"]


async def test_a_graceful_stop_tells_the_waiting_users(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "botrt")
    asking = [message("/quiz", user_id=1), message("/quiz", user_id=2, peer_id=GROUP)]
    async with served(bot={"language": "ru"}) as host:
        host.drain_grace = 60.0  # the stop must not need it: nothing is cancelled
        for ev in asking:
            await host.submit(ev)
        await anyio.wait_all_tasks_blocked()
        assert len(host.dispatcher.dialogues.waiting) == 2
    for ev in asking:
        assert ev.replies == [
            "What is 2+2?",
            "Разговор прерван: бот перезапускается. Начните заново через минуту.",
        ]
    assert "cancelling them" not in caplog.text
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


PLUGIN = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import ask, on_command

PLUGIN = PluginPlanner(version="{version}")


@PLUGIN.use
@on_command("quiz")
async def quiz(event: TextEvent) -> None:
    answer = await ask("v{version}: What is 2+2?")
    await answer.reply("v{version}: " + ("Right!" if answer.text == "4" else "No: 4."))
"""


def write_quiz(folder: Path, version: str) -> None:
    folder.mkdir(exist_ok=True)
    source = textwrap.dedent(PLUGIN).format(version=version)
    (folder / "__plugin__.py").write_text(source, encoding="utf-8")


async def test_a_waiting_ask_neither_blocks_a_reload_nor_loses_its_answer(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "quizzer"
    write_quiz(folder, "1")
    async with TestHost(plugins=[folder]) as th:
        assert await th.send("/quiz") == ["v1: What is 2+2?"]
        write_quiz(folder, "2")
        runtime = th.host.runtime
        with anyio.fail_after(30):  # a hang bound: the swap must not wait for the answer
            old = await runtime.swap("quizzer", runtime.import_plugin("quizzer", folder))
        assert old is not None
        assert old.version == "1"
        assert runtime.plugins["quizzer"].version == "2"
        # The conversation goes on to its end on the version that started it.
        assert await th.send("4") == ["v1: Right!"]
        assert await th.send("/quiz", user_id=2) == ["v2: What is 2+2?"]
        assert await th.send("5", user_id=2) == ["v2: No: 4."]


async def test_a_lane_leaves_no_garbage_per_event() -> None:
    # A lane task's context holds its lane; the lane must not keep the task, or each
    # event would leave a reference cycle (task, context, lane) for the collector.
    import gc

    from botrt.host._intake import open_intake

    async def handle(event: object) -> None:
        await anyio.lowlevel.checkpoint()

    sender, worker = open_intake(handle, max_queue=1000, max_pending=256)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        await anyio.wait_all_tasks_blocked()
        gc.collect()
        gc.disable()
        try:
            for user in range(200):
                sender.send_nowait(MemoryEvent("x", user_id=user))
            await anyio.wait_all_tasks_blocked()
            assert sender.statistics().running == 0
            assert gc.collect() == 0
        finally:
            gc.enable()
            sender.close()
