"""Background work: runs beside events, is cancelled before the plugin unloads."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from pluginkit import write_plugin

from botrt.testing import TestHost

pytestmark = pytest.mark.anyio

WORKER = """
import anyio

from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command
from botrt.plugin import Background

PLUGIN = PluginPlanner(version="1.0.0")
log = []


async def job(label: str) -> None:
    log.append(f"{label} started")
    try:
        await anyio.sleep_forever()
    finally:
        log.append(f"{label} cancelled")


async def boom() -> None:
    raise RuntimeError("job failed")


@PLUGIN.use
@on_command("start")
async def start(event: TextEvent, background: Background) -> None:
    background.start(job, "job1")
    background.start(boom)
    await event.reply("started")


@PLUGIN.on_unload
def bye(background: Background) -> None:
    log.append(f"on_unload sees {background.running} running")
"""


async def test_background_tasks_are_cancelled_before_on_unload(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = write_plugin(tmp_path, "worker", {"__plugin__.py": WORKER})
    async with TestHost(plugins=[folder]) as host:
        assert await host.send("/start") == ["started"]
        background = host.host.background.for_plugin("worker")
        module = host.host.runtime.plugins["worker"].planner.flows[0].nodes[0].fn.__globals__
        log = module["log"]
        await anyio.wait_all_tasks_blocked()  # job1 asleep, boom already over
        assert background.running == 1
        await host.host.runtime.swap("worker", None)
        assert log == ["job1 started", "job1 cancelled", "on_unload sees 0 running"]
    assert any("background task 'boom' failed" in r.getMessage() for r in caplog.records)
