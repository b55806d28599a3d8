"""`Event.on_handled`: the host says when an event's handling ended (issue 16, the "handled"
signal a durable inbox waits for): after its flows, when middleware dropped it, when a
flow failed; never for a run that was cancelled (a stop cutting it short).
"""

from __future__ import annotations

import anyio
import pytest

from _served import DropSecrets
from botrt.adapter import TextEvent
from botrt.config import parse_config
from botrt.handle import Flow, node
from botrt.host import Host
from botrt.testing import MemoryEvent

pytestmark = pytest.mark.anyio


def make_host() -> Host:
    config = parse_config(
        {
            "console": {"enabled": False},
            "plugins": {"builtin": False, "dirs": []},
            "storage": {"url": "sqlite:///:memory:"},
        },
        base_dir=".",
    )
    return Host(config, entry_points=False, hook_modules=(DropSecrets(),))


def tracked(text: str, log: list[str]) -> MemoryEvent:
    event = MemoryEvent(text)
    event.on_handled = lambda: log.append(f"done {text}")
    return event


async def test_on_handled_runs_once_handling_ended_whatever_the_outcome() -> None:
    log: list[str] = []
    blocked = anyio.Event()

    @node
    async def work(e: TextEvent) -> None:
        if e.text == "fail":
            raise ValueError("a plugin's bug")
        if e.text == "hang":
            blocked.set()
            await anyio.sleep_forever()
        log.append(f"ran {e.text}")

    host = make_host()
    host.dispatcher.add(Flow("work", [work]))
    await host.start()
    try:
        await host.handle(tracked("hello", log))
        await host.handle(tracked("secret", log))  # dropped by middleware
        await host.handle(tracked("fail", log))
        await host.handle(MemoryEvent("untracked"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(host.handle, tracked("hang", log))
            await blocked.wait()
            tg.cancel_scope.cancel()  # a stop past its grace: the run did not finish
    finally:
        await host.stop()
    assert log == ["ran hello", "done hello", "done secret", "done fail", "ran untracked"]


def test_events_carry_no_callback_unless_an_adapter_sets_one() -> None:
    assert MemoryEvent("hi").on_handled is None
