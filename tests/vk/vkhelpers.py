"""Helpers for the VK platform tests (imported by conftest and the test modules)."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from aiohttp import web

from botrt.protocols.vk import BotsLongPoll
from botrt.testing._fakevk import FakeVK

GROUP_ID = 101
TOKEN = "vk1.a.TOPSECRET-token-0123456789abcdef"
PAYLOADS = Path(__file__).parents[2].parent / "shared" / "vk-payloads"


def load_payload(name: str) -> Any:
    """Return the JSON of one file of /work/shared/vk-payloads, or skip the test."""
    path = PAYLOADS / name
    if not path.is_file():
        pytest.skip(f"{path} is not available")
    return json.loads(path.read_text(encoding="utf-8"))


class ManualTimer:
    """A `botrt.protocols.vk.Timer` that moves only when the test moves it.

    With `auto`, every sleep moves it by its own length at once instead (for
    a single task that retries: its waits are recorded, none is waited for).

    Attributes:
        sleeps: the length of every sleep asked for, in order.
    """

    def __init__(self, start: float = 1000.0, *, auto: bool = False) -> None:
        self._now = start
        self._auto = auto
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, anyio.Event]] = []
        self._changed = anyio.Event()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self._auto or seconds <= 0:
            self._now += max(0.0, seconds)
            await anyio.lowlevel.checkpoint()
            return
        entry = (self._now + seconds, anyio.Event())
        self._sleepers.append(entry)
        self._notify()
        try:
            await entry[1].wait()
        finally:
            self._sleepers.remove(entry)
            self._notify()

    def advance(self, seconds: float) -> None:
        """Move the time on by `seconds`, waking every sleeper whose moment came."""
        self._now += seconds
        for moment, due in self._sleepers:
            if moment <= self._now:
                due.set()

    async def wait_idle(self, count: int) -> None:
        """Wait until exactly `count` tasks sleep on this timer, none of them due yet."""
        with anyio.fail_after(30):  # a hang bound, not a speed check
            while len(self._sleepers) != count or any(m <= self._now for m, _ in self._sleepers):
                await self._changed.wait()

    async def wait_sleeping(self, count: int) -> None:
        """Wait until exactly `count` tasks sleep on this timer."""
        with anyio.fail_after(30):
            while len(self._sleepers) != count:
                await self._changed.wait()

    async def wake_next(self) -> float:
        """Wait for one task to sleep, move the time to its wake-up, and wait until it woke.

        Returns how far the time moved.
        """
        await self.wait_sleeping(1)
        step = max(0.0, self._sleepers[0][0] - self._now)
        self.advance(step)
        await self.wait_sleeping(0)
        return step

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()


class Collector:
    """An update sink that records what it gets and lets a test wait for it."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, dict[str, Any]]] = []
        self._changed = anyio.Event()

    async def __call__(self, bot: str, update: dict[str, Any]) -> None:
        self.updates.append((bot, update))
        self._changed, changed = anyio.Event(), self._changed
        changed.set()

    @property
    def event_ids(self) -> list[str]:
        return [u.get("event_id") for _, u in self.updates]

    async def wait_count(self, count: int, seconds: float = 5.0) -> None:
        with anyio.fail_after(seconds):
            while len(self.updates) < count:
                await self._changed.wait()


@asynccontextmanager
async def polling(poll: BotsLongPoll, sink: Any, vk: FakeVK | None = None) -> AsyncIterator[None]:
    """Run `poll.run(sink)` for the duration of the block, then cancel it.

    With `vk`, the block starts once the poller's first `a_check` reached
    FakeVK: updates pushed before that are, as on VK, history it never sees.
    """
    async with anyio.create_task_group() as tg:
        before = vk.longpoll_requests if vk is not None else 0
        tg.start_soon(poll.run, sink)
        if vk is not None:
            # A hang bound, not a speed check: a busy CI machine may take seconds.
            with anyio.fail_after(120):
                await vk.wait_for(lambda: vk.longpoll_requests > before)
        yield
        tg.cancel_scope.cancel()


class ScriptedVK:
    """A server answering each path with queued bodies, in order, to replay real payloads.

    A path whose queue is empty holds the request until the server stops.
    """

    def __init__(self) -> None:
        self.queues: dict[str, deque[tuple[int, bytes]]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._changed = anyio.Event()

    def add(self, path: str, body: Any, status: int = 200) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.queues.setdefault(path, deque()).append((status, raw))

    async def wait_requests(self, path: str, count: int) -> None:
        with anyio.fail_after(30):
            while sum(1 for p, _ in self.requests if p == path) < count:
                await self._changed.wait()

    async def _handle(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.post()).items()})
        self.requests.append((request.path, params))
        self._changed, changed = anyio.Event(), self._changed
        changed.set()
        queue = self.queues.get(request.path)
        if not queue:
            await anyio.sleep_forever()
        status, raw = queue.popleft()
        return web.Response(status=status, body=raw, content_type="application/json")

    async def __aenter__(self) -> ScriptedVK:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
