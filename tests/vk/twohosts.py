"""Real hosts serving in the background as cluster workers, for the VK cluster tests
(`test_cluster_callback`, `test_cluster_host`, `test_cluster_states`): all on one
storage, each with its own HTTP server if it has one, FakeVK on VK's side.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from botrt.config import BotConfig, parse_config
from botrt.host import Host
from botrt.protocols.vk._adapters import VkCallbackAdapter, VkLongPollAdapter
from botrt.protocols.vk._routing import CallbackRouter
from botrt.storage._internal import Inbox
from botrt.testing import ManualClock
from botrt.testing._fakevk import FakeVK
from botrt.testing._ports import free_port

SECRET = "s3cret"
LIMIT = 30  # catches a hang only


def host_config(
    tmp_path: Path,
    storage_url: str,
    *,
    plugin: str,
    bot: dict[str, Any],
    worker: str | None,
) -> BotConfig:
    """A config with the one plugin `plugin` (its source), the one bot `bot` (a ``[[bots]]``
    table) and a server on a free port; a cluster worker named `worker` (None: no cluster).
    """
    folder = tmp_path / "plugins" / "under_test"
    if not folder.exists():
        folder.mkdir(parents=True)
        (folder / "__plugin__.py").write_text(plugin, encoding="utf-8")
    data: dict[str, Any] = {
        "plugins": {"dirs": [str(tmp_path / "plugins")], "builtin": False},
        "storage": {"url": storage_url},
        "server": {"host": "127.0.0.1", "port": free_port()},
        "bots": [bot],
    }
    if worker is not None:
        data["cluster"] = {"enabled": True, "worker_id": worker, "failover": 3}
    return parse_config(data, base_dir=tmp_path)


def callback_bot(vk: FakeVK, name: str, group: int, token: str) -> dict[str, Any]:
    """A ``[[bots]]`` table: a VK bot on the Callback API at ``/vk/NAME``, secret `SECRET`."""
    return {"name": name, "platform": "vk", "api_url": vk.api_url, "token": token} | {
        "group_id": group,
        "transport": "callback",
        "path": f"/vk/{name}",
        "secret": SECRET,
        "confirmation": "abc",
    }


class Served:
    """A host serving in the background until `stop` (as `botrt serve` does)."""

    def __init__(self, config: BotConfig, clock: ManualClock | None = None) -> None:
        self.host = Host(config)
        self.host.drain_grace = 5
        if clock is not None:
            self.host.info.clock = clock
        paths = [b.path for b in config.bots if b.transport == "callback"]
        self.url = f"http://127.0.0.1:{config.server.port}{paths[0]}" if paths else ""
        self._listens = config.server_active
        self._done = anyio.Event()

    async def start(self, tg: TaskGroup) -> None:
        """Start it in `tg`; return once it serves (its HTTP server, if any, listens)."""
        started = anyio.Event()
        tg.start_soon(self._run, started)
        with anyio.fail_after(60):
            await started.wait()
            # The server listens once it has a runner.
            while self._listens and self.host.web.runner is None:
                await anyio.lowlevel.checkpoint()

    async def _run(self, started: anyio.Event) -> None:
        # start, serve and stop in one task: the host's task group demands it.
        assert not await self.host.start()
        started.set()
        try:
            await self.host.serve(signals=False)
        finally:
            await self.host.stop()
            self._done.set()

    async def stop(self) -> None:
        """Stop as on SIGTERM (drain, hand over, close), and wait until it has."""
        self.host.request_stop()
        with anyio.fail_after(LIMIT):
            await self._done.wait()

    def callback(self) -> VkCallbackAdapter:
        """The host's one Callback API adapter."""
        (adapter,) = [a for a in self.host.adapters if isinstance(a, VkCallbackAdapter)]
        return adapter

    def router(self) -> CallbackRouter:
        """The Callback API's router among the workers (a cluster's)."""
        router = self.callback().router
        assert router is not None
        return router

    def inbox(self) -> Inbox:
        """The Callback API bot's inbox."""
        inbox = self.callback()._platform.inbox
        assert inbox is not None
        return inbox.inbox

    def leads(self) -> bool:
        """Whether this worker leads its Long Poll bot now."""
        (adapter,) = [a for a in self.host.adapters if isinstance(a, VkLongPollAdapter)]
        assert adapter.leadership is not None
        return adapter.leadership.leads()


async def post(vk: FakeVK, worker: Served, group: int, user: int, text: str) -> None:
    """POST `user`'s message `text` to `worker` as VK does; it must answer `ok`."""
    update = vk.build_message(group, user, text)
    (answer,) = await vk.deliver_callback(worker.url, update, secret=SECRET)
    assert (answer.status, answer.text) == (200, "ok")


class Gate:
    """What a test plugin's handler waits on: the first arrival stays until `open` is set."""

    def __init__(self) -> None:
        self.arrived = 0
        self.first = anyio.Event()
        self.open = anyio.Event()
        self.finished: dict[int, anyio.Event] = {1: anyio.Event(), 2: anyio.Event()}

    async def arrive(self) -> int:
        self.arrived += 1
        n = self.arrived
        if n == 1:
            self.first.set()
            await self.open.wait()
        return n

    def done(self, n: int) -> None:
        self.finished[n].set()


@contextmanager
def installed_gate(name: str) -> Iterator[Gate]:
    """A `Gate` that a plugin imports as the module `name` (``arrive``, ``done``)."""
    made = Gate()
    module = types.ModuleType(name)
    module.arrive = made.arrive  # type: ignore[attr-defined]
    module.done = made.done  # type: ignore[attr-defined]
    sys.modules[name] = module
    try:
        yield made
    finally:
        del sys.modules[name]


async def until(predicate: object) -> None:
    """Return once `predicate()` holds, looking every 10 ms (the workers run meanwhile)."""
    assert callable(predicate)
    with anyio.fail_after(LIMIT):
        while not predicate():  # noqa: ASYNC110 (state of the workers, no event to wait on)
            await anyio.sleep(0.01)
