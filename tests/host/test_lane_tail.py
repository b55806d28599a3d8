"""The end of an event's handling on a served host's lanes, with nothing in front of dispatch.

There the lanes run `Host.handle` as its two halves (`_begin`, `_end`), so a
run parked in `ask()` keeps no coroutine of the handling's own. What the
handling's end does must not change: `on_handled` once, after the flows and
only for a run that was not cut short; the event counted as handled, with
its latency. A dialogue's first event ends
when its run ends, not when it parks.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import anyio
import pytest

from _served import DropSecrets, bare_config, serving
from botrt.adapter import TextEvent
from botrt.handle import ask, on_command
from botrt.host import Host
from botrt.testing import MemoryEvent

pytestmark = pytest.mark.anyio


@on_command("hi")
async def hi(event: TextEvent) -> None:
    await event.reply("hello")


@on_command("boom")
async def boom(event: TextEvent) -> None:
    raise ValueError("a plugin's bug")


@on_command("talk")
async def talk(event: TextEvent) -> None:
    answer = await ask("name?")
    while answer.text != "bye":
        answer = await ask(f"again, {answer.text}?")
    await answer.reply("ok")


@on_command("wait")
async def wait(event: TextEvent) -> None:
    await ask("?")


def served(*, hard: bool = False) -> AbstractAsyncContextManager[Host]:
    return serving(Host(bare_config(), entry_points=False), [hi, boom, talk, wait], hard=hard)


async def say(host: Host, text: str, log: list[str], user_id: int = 7) -> MemoryEvent:
    event = MemoryEvent(text, user_id=user_id)
    event.on_handled = lambda: log.append(f"handled {text}")
    await host.submit(event)
    await anyio.wait_all_tasks_blocked()
    return event


def handled(host: Host) -> int:
    return host.metrics.source("memory", "memory").handled


async def test_each_event_ends_once_whatever_its_flows_did() -> None:
    log: list[str] = []
    async with served() as host:
        greeted = await say(host, "/hi", log)
        await say(host, "/boom", log)  # the flow failed: handled all the same
        await say(host, "no command", log)  # no flow takes it: handled at once
        assert greeted.replies == ["hello"]
        assert log == ["handled /hi", "handled /boom", "handled no command"]
        assert handled(host) == 3
        assert sum(host.metrics.source("memory", "memory").latency.counts) == 3


async def test_a_dialogue_start_ends_with_its_run_and_each_answer_at_once() -> None:
    log: list[str] = []
    async with served() as host:
        await say(host, "/talk", log)
        assert log == []
        assert handled(host) == 0
        first = await say(host, "Ann", log)
        assert first.replies == ["again, Ann?"]
        await say(host, "Bob", log)
        assert log == ["handled Ann", "handled Bob"]
        assert handled(host) == 2
        last = await say(host, "bye", log)
        assert last.replies == ["ok"]
        # The run ended inside the answer's handling: the dialogue's start ends first.
        assert log == ["handled Ann", "handled Bob", "handled /talk", "handled bye"]
        assert handled(host) == 4


async def test_a_parked_run_closed_at_a_hard_stop_is_not_handled() -> None:
    log: list[str] = []
    async with served(hard=True) as host:
        await say(host, "/wait", log)
        await say(host, "/hi", log, user_id=8)
    assert log == ["handled /hi"]
    assert handled(host) == 2  # counted, as the coroutine's `finally` counted it


async def test_a_stop_ends_a_parked_run_and_then_its_event() -> None:
    log: list[str] = []
    async with served() as host:
        event = await say(host, "/wait", log)
    # The stop ended the wait; the user was told, the run returned: handled.
    assert event.replies[0] == "?"
    assert len(event.replies) == 2
    assert log == ["handled /wait"]


async def test_a_filter_registered_while_serving_sees_the_next_events() -> None:
    # The host decides at start that nothing stands in front of dispatch; a hook module
    # an embedding registers later must still filter every event from then on.
    log: list[str] = []
    async with served() as host:
        before = await say(host, "secret one", log)
        filters = DropSecrets()
        host.pm.register(filters)
        dropped = await say(host, "secret two", log)
        greeted = await say(host, "/hi", log)
        host.pm.unregister(filters)
        after = await say(host, "secret three", log)
    texts = ["secret one", "secret two", "/hi", "secret three"]
    assert log == [f"handled {text}" for text in texts]
    assert greeted.replies == ["hello"]
    assert handled(host) == 3  # the dropped one never reached the dispatcher
    assert before.replies == dropped.replies == after.replies == []
