"""The host's parts work from what they are given, without a `Host`."""

from __future__ import annotations

import datetime as dt

import anyio
import pytest

from botrt.adapter import Adapter, Event, Submit
from botrt.host._intake import open_intake
from botrt.host._members import MemberSync
from botrt.host._metrics import HostMetrics, PluginGauge
from botrt.host._serving import Serving
from botrt.testing import ManualClock, MemoryEvent


def test_host_metrics_read_only_the_callables_they_are_given() -> None:
    depth = [7]
    metrics = HostMetrics(
        queue_depth=lambda: depth[0],
        plugins=lambda: [PluginGauge("echo", "1.0", 2)],
        enabled=True,
    )
    text = metrics.render().decode()
    assert "botrt_queue_depth 7.0" in text
    assert 'botrt_plugin_info{plugin="echo",version="1.0"} 1.0' in text
    assert 'botrt_background_tasks{plugin="echo"} 2.0' in text
    depth[0] = 0
    assert "botrt_queue_depth 0.0" in metrics.render().decode()


@pytest.mark.anyio
async def test_member_sync_asks_the_hook_first_then_the_store() -> None:
    answers: list[object] = [True]

    async def later() -> bool:
        return False

    def ask(event: Event) -> object:
        return answers[0]

    sync = MemberSync({}, lambda: None, ask)
    event = MemoryEvent("hi", user_id=5)
    assert await sync.is_admin(event) is True
    answers[0] = later()  # an async hook's answer is awaited
    assert await sync.is_admin(event) is False
    answers[0] = None  # no answer, and no store to ask: not an admin
    assert await sync.is_admin(event) is False


class OneShot(Adapter):
    """Submits one event, then its input ends."""

    name = "oneshot"
    ends_host = True

    async def run(self, submit: Submit) -> None:
        await submit(MemoryEvent("only", user_id=1))


@pytest.mark.anyio
async def test_serving_drains_and_stops_when_its_only_input_ends() -> None:
    handled: list[str] = []
    said: list[str] = []

    async def handle(event: Event) -> None:
        assert isinstance(event, MemoryEvent)
        handled.append(event.text)

    intake, worker = open_intake(handle, max_queue=4, max_pending=2)
    serving = Serving(
        intake=intake,
        worker=worker,
        stop=anyio.Event(),
        adapters=lambda: [OneShot()],
        submit=intake.send,
        clock=lambda: ManualClock(dt.datetime(2026, 9, 1, tzinfo=dt.UTC)),
        on_started=lambda: said.append("started"),
        on_stopping=lambda: said.append("stopping"),
        stop_background=lambda deadline: said.append("background"),
    )
    with anyio.fail_after(10):
        await serving.serve((), drain_grace=5.0, signals=False)
    assert handled == ["only"]
    assert said == ["started", "background", "stopping"]
