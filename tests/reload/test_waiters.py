"""Several tasks waiting on the same reload signal all wake when it comes."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from anyio import wait_all_tasks_blocked
from reloadkit import running_bot, versioned

from botrt.config import parse_config
from botrt.host import Host

pytestmark = pytest.mark.anyio


async def test_two_tasks_waiting_for_a_change_set_both_wake(tmp_path: Path) -> None:
    async with running_bot(tmp_path, {"ver/__plugin__.py": versioned("1")}) as bot:
        target = bot.reloader.batches + 1
        woke: list[str] = []

        async def waiter(name: str) -> None:
            await bot.reloader.wait_batches(target)
            woke.append(name)

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(waiter, "first")
                await wait_all_tasks_blocked()
                tg.start_soon(waiter, "second")
                await wait_all_tasks_blocked()
                bot.write("ver/__plugin__.py", versioned("2"))
        assert sorted(woke) == ["first", "second"]


async def test_two_tasks_waiting_for_old_events_both_wake() -> None:
    config = parse_config(
        {
            "console": {"enabled": False},
            "plugins": {"builtin": False, "dirs": []},
            "storage": {"url": "sqlite:///:memory:"},
        },
        base_dir=".",
    )
    runtime = Host(config, entry_points=False).runtime
    epoch = runtime.event_started()
    woke: list[str] = []

    async def waiter(name: str) -> None:
        await runtime.wait_events_before(epoch + 1)
        woke.append(name)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter, "first")
            await wait_all_tasks_blocked()
            tg.start_soon(waiter, "second")
            await wait_all_tasks_blocked()
            assert woke == []
            runtime.event_finished(epoch)
    assert sorted(woke) == ["first", "second"]
