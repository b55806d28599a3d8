"""A crashed adapter is restarted, with backoff on the host's clock, and the crash is logged."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from botrt.adapter import Adapter, Submit, TextEvent
from botrt.config import parse_config
from botrt.handle import Flow, node
from botrt.host import Host
from botrt.testing import ManualClock, MemoryEvent

pytestmark = pytest.mark.anyio

START = dt.datetime(2026, 9, 1, 12, 0, tzinfo=dt.UTC)


class Crashy(Adapter):
    """Crashes on its first `crashes` runs; then delivers one event and waits."""

    name = "crashy"

    def __init__(self, crashes: int) -> None:
        self.crashes = crashes
        self.runs = 0
        self.ran = anyio.Event()

    async def run(self, submit: Submit) -> None:
        self.runs += 1
        self.ran.set()
        if self.runs <= self.crashes:
            raise ConnectionError(f"lost the platform (run {self.runs})")
        await submit(MemoryEvent("back", user_id=1))
        await anyio.sleep_forever()


def restart_moment(clock: ManualClock) -> dt.datetime:
    """When the one timed sleeper (the adapter's restart; the scheduler has none) wakes."""
    (moment,) = [m for m, _ in clock.sleepers if m is not None]
    return moment


def config() -> Any:
    return parse_config(
        {"console": {"enabled": False}, "plugins": {"builtin": False, "dirs": []}},
        base_dir=".",
    )


async def test_a_crashed_adapter_is_restarted_with_backoff_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="botrt.host")
    clock = ManualClock(START)
    host = Host(config(), entry_points=False)
    host.info.clock = clock
    adapter = Crashy(crashes=2)
    handled = anyio.Event()

    @node
    async def record(e: TextEvent) -> None:
        handled.set()

    await host.start()
    host.adapters.append(adapter)
    host.dispatcher.add(Flow("record", [record]))
    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: host.serve(signals=False))
                for crash in (1, 2):
                    await adapter.ran.wait()
                    adapter.ran = anyio.Event()
                    await wait_all_tasks_blocked()
                    # Crashed, logged, and waiting on the clock, not restarted yet.
                    assert adapter.runs == crash
                    moment = restart_moment(clock)
                    wait = (moment - clock.now()).total_seconds()
                    assert 2 ** (crash - 1) / 2 <= wait <= 2 ** (crash - 1)  # 1 s, then 2 s
                    clock.advance(moment)
                await handled.wait()
                host.request_stop()
    finally:
        await host.stop()
    assert adapter.runs == 3
    crashes = [r for r in caplog.records if r.getMessage().startswith("adapter crashy failed")]
    assert [r.exc_info[1].args[0] for r in crashes if r.exc_info and r.exc_info[1]] == [
        "lost the platform (run 1)",
        "lost the platform (run 2)",
    ]
    assert "2 time(s) in a row" in crashes[1].getMessage()
    assert [r.getMessage() for r in caplog.records].count("adapter crashy restarting") == 2


async def test_a_stop_during_the_wait_ends_the_adapter_without_a_restart() -> None:
    clock = ManualClock(START)
    host = Host(config(), entry_points=False)
    host.info.clock = clock
    adapter = Crashy(crashes=1)
    await host.start()
    host.adapters.append(adapter)
    try:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: host.serve(signals=False))
                await adapter.ran.wait()
                await wait_all_tasks_blocked()
                restart_moment(clock)
                host.request_stop()
    finally:
        await host.stop()
    assert adapter.runs == 1
