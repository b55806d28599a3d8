"""A real cluster for tests and benchmarks: N `botrt serve` workers on one PostgreSQL,
HAProxy in front of their Callback API ports, FakeVK on VK's side.

- `HAProxy`: writes a config (round robin over the workers' ports, loopback only) and
  runs ``haproxy`` in the foreground as a child process.
- `Cluster`: the bot's files (a plugin that logs and replies to ``/n TAG``, two bots:
  ``hooked`` on the Callback API, ``poller`` on Long Poll) and its workers.
- `Traffic`: VK's side of the load: Callback updates POSTed through HAProxy and
  retried until `ok`, as VK does, and Long Poll updates queued in FakeVK.

The workers are ``tests/_workers.py``'s `Worker`: `botrt serve` processes, each with its
own `bot.toml` (its port and worker id) and a log file the test reads. Imported by the
tests in this folder and by ``benchmarks/cluster.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process

from _workers import (
    LIMIT,
    Worker,
    replies,
    tallied,
    vk_bot,
    wait_port,
    write_config,
    write_tally,
)
from botrt.testing._fakevk import FakeVK
from botrt.testing._pgcluster import run_tool
from botrt.testing._ports import free_port
from botrt.testing._postgres import PostgresServer

HOOKED_GROUP, POLLED_GROUP = 20, 10
SECRET = "s3cret"
USERS = range(2000, 2060)  # FakeVK, as VK, remembers the last 100 random_ids per peer
STALL = 30.0  # no new reply for this long: stuck, not slow
ROOT = Path(__file__).resolve().parents[2]
# "worker w1 no longer leads ..." does not match: the word after the id is "leads".
LEADS = re.compile(r"worker \S+ leads vk-longpoll:poller \(epoch (\d+)\)")

HAPROXY_CONFIG = """\
global
    maxconn 2000

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    # A stopped or dead worker refuses the connection: try the next one.
    retries 3
    retry-on conn-failure
    option redispatch 1

frontend vk
    bind 127.0.0.1:{port}
    default_backend workers

backend workers
    balance roundrobin
    # A TCP check: /healthz is 503 on a worker that stands by for Long Poll.
    default-server inter 250ms fall 1 rise 1
{servers}
"""


def require_haproxy() -> str:
    """The haproxy executable; skips the test without it (fails it when ``CI=true``)."""
    found = shutil.which("haproxy")
    if found is not None:
        return found
    reason = "HAProxy is not installed (run .ci/haproxy.sh, or apt-get install haproxy)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}\nCI=true: the cluster tests must run, not be skipped")
    pytest.skip(reason)


class HAProxy:
    """HAProxy on 127.0.0.1:`port`, round robin over the workers' ports; `async with`."""

    def __init__(self, folder: Path, backends: Iterable[int]) -> None:
        self.port = free_port()
        self.config = folder / "haproxy.cfg"
        self.log = folder / "haproxy.log"
        servers = "\n".join(f"    server w{i} 127.0.0.1:{p} check" for i, p in enumerate(backends))
        self.config.write_text(
            HAPROXY_CONFIG.format(port=self.port, servers=servers), encoding="utf-8"
        )
        self.proc: Process | None = None

    def url(self, path: str) -> str:
        """The URL of `path` through the load balancer."""
        return f"http://127.0.0.1:{self.port}{path}"

    async def __aenter__(self) -> HAProxy:
        exe = require_haproxy()
        with self.log.open("wb") as out:
            # -db: stay in the foreground, so the test owns the process.
            self.proc = await anyio.open_process(
                [exe, "-db", "-f", str(self.config)], stdout=out, stderr=subprocess.STDOUT
            )
        await wait_port(self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None:
            if self.proc.returncode is None:
                self.proc.terminate()
            with anyio.move_on_after(10):
                await self.proc.wait()
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
            await self.proc.aclose()


@dataclass
class Cluster:
    """The bot's files and its workers (not started): `count` workers on `storage_url`."""

    folder: Path
    vk: FakeVK
    storage_url: str
    count: int = 3
    failover: float = 3  # lease 1.2 s, renewed every 0.3 s: a busy machine keeps it
    extra: str = ""  # more TOML, appended to every worker's config
    plugins: str = ""  # the [plugins] table's lines; default: only the tally plugin
    keep_groups: set[int] = field(default_factory=set)  # groups the test registered itself
    workers: list[Worker] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._tally = write_tally(self.folder)
        for group, token in ((HOOKED_GROUP, "token-hooked"), (POLLED_GROUP, "token-polled")):
            if group not in self.keep_groups:
                self.vk.add_group(group, token=token, members=list(USERS))
        self.workers = [self._worker(i) for i in range(self.count)]

    def _worker(self, index: int) -> Worker:
        name = f"w{index + 1}"
        port = free_port()
        config = write_config(
            self.folder / f"{name}.toml",
            plugins=self.plugins or self._tally,
            storage_url=self.storage_url,
            port=port,
            cluster={"worker_id": name, "failover": self.failover},
            bots=[
                vk_bot(self.vk, "poller", POLLED_GROUP, "token-polled"),
                vk_bot(self.vk, "hooked", HOOKED_GROUP, "token-hooked", secret=SECRET),
            ],
            extra=self.extra,
        )
        return Worker(config, name, port)

    async def __aenter__(self) -> Cluster:
        """`start`; whatever happens, `close` on exit."""
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def balancer(self) -> HAProxy:
        """HAProxy over the workers' ports, its files in the cluster's folder (not started)."""
        return HAProxy(self.folder, [w.port for w in self.workers])

    async def start(self) -> None:
        """Start every worker, the first alone until it leads Long Poll; wait until all serve."""
        first, *rest = self.workers
        await first.start()
        await first.wait_says("leads vk-longpoll:poller (epoch")
        for worker in rest:
            await worker.start()
        for worker in self.workers:
            await worker.ready()
        for worker in rest:
            await worker.wait_says("stands by for vk-longpoll:poller")

    def epochs(self) -> dict[int, Worker]:
        """Each Long Poll epoch of the poller, with the worker whose log says it took it."""
        found = {}
        for worker in self.workers:
            for match in LEADS.finditer(worker.text()):
                found[int(match[1])] = worker
        return found

    def leader(self) -> tuple[int, Worker]:
        """The latest epoch of the poller's Long Poll lease and the worker that took it."""
        epochs = self.epochs()
        assert epochs, "no worker has led the poller's Long Poll yet"
        latest = max(epochs)
        return latest, epochs[latest]

    def handled(self) -> list[tuple[int, str, str]]:
        """(pid, bot, tag) of every handling the plugin logged, in order."""
        return tallied(self.folder)

    async def close(self) -> None:
        for worker in self.workers:
            await worker.close()


def restart_postgres(server: PostgresServer) -> None:
    """Restart `server` on its port (``pg_ctl restart``: a fast stop, then a start)."""
    run_tool(
        [
            *server._run_as,
            str(server._bin_dir / "pg_ctl"),
            *("restart", "-D", str(server.data_dir), "-l", str(server.log_file)),
            *("-m", "fast", "-w", "-t", "60"),
        ],
        what="pg_ctl restart",
        cwd=server.data_dir.parent,
        log_file=server.log_file,
    )


@dataclass
class Traffic:
    """VK's side of the load: Callback updates through `url`, Long Poll updates in FakeVK.

    Every `pace` seconds one update: a Callback one (POSTed, and retried until `ok`
    with `X-Retry-Counter`, as VK does) or, one in `polled_every`, a Long Poll one.
    `concurrency` senders POST at once.
    """

    vk: FakeVK
    url: str
    pace: float = 0.02
    polled_every: int = 4
    concurrency: int = 4
    sent: list[str] = field(default_factory=list)
    retried: int = 0
    _queue: list[dict[str, Any]] = field(default_factory=list)
    _stopping: anyio.Event = field(default_factory=anyio.Event)

    def stop(self) -> None:
        """Send nothing new: `run` returns once what it sent is delivered (`ok`).

        Not a cancellation: an update counted as sent but cancelled before its POST
        (waiting for a free sender) would never reach the cluster, and read as lost.
        """
        self._stopping.set()

    def _next(self, group: int, prefix: str) -> dict[str, Any]:
        tag = f"{prefix}{len(self.sent) + 1}"
        self.sent.append(tag)
        user = USERS[len(self.sent) % len(USERS)]
        return self.vk.build_message(group, user, f"/n {tag}")

    def next_callback(self) -> dict[str, Any]:
        """A new Callback update for the ``hooked`` bot, counted as sent."""
        return self._next(HOOKED_GROUP, "h")

    async def deliver(self, update: dict[str, Any]) -> None:
        """POST until `ok`, as VK does (it gives up after a while; we never do)."""
        counter: int | None = None
        while True:
            (answer,) = await self.vk.deliver_callback(
                self.url, update, secret=SECRET, retry_counter=counter, request_timeout=10
            )
            if answer.status == 200 and answer.text == "ok":
                return
            self.retried += 1
            counter = (counter or 0) + 1
            await anyio.sleep(0.05)  # VK's pause between attempts, not a synchronisation

    async def run(self, count: int | None = None) -> None:
        """Send `count` updates (None: until `stop`), waiting for every Callback `ok`."""
        limiter = anyio.CapacityLimiter(self.concurrency)

        async def one(update: dict[str, Any]) -> None:
            async with limiter:
                await self.deliver(update)

        async with anyio.create_task_group() as tg:
            n = 0
            while (count is None or n < count) and not self._stopping.is_set():
                n += 1
                if n % self.polled_every == 0:
                    self.vk.push(self._next(POLLED_GROUP, "p"))
                else:
                    tg.start_soon(one, self.next_callback())
                with anyio.move_on_after(self.pace):  # a steady pace of traffic
                    await self._stopping.wait()

    async def wait_sent(self, more: int) -> None:
        """Wait until `more` updates more than now were sent (bounded by `LIMIT`)."""
        target = len(self.sent) + more
        with anyio.fail_after(LIMIT):
            await self.vk.wait_for(lambda: len(self.sent) >= target)

    def missing(self) -> list[str]:
        """The updates sent and not replied to yet."""
        got = replies(self.vk)
        return [tag for tag in self.sent if not got[tag]]

    async def until_all_replied(self) -> None:
        """Wait until every update sent was replied to, while replies keep coming."""
        await while_progress(
            self.vk, lambda: set(replies(self.vk)) >= set(self.sent), lambda: len(self.vk.sent)
        )
        missing = self.missing()
        assert not missing, f"never replied to ({STALL:g} s without a new reply): {missing}"


@asynccontextmanager
async def under_load(cluster: Cluster, **options: Any) -> AsyncIterator[Traffic]:
    """`Traffic` (with `options`) through HAProxy over `cluster` during the block; then
    nothing new, and wait until every update sent was delivered and replied to.
    """
    async with cluster.balancer() as lb, anyio.create_task_group() as tg:
        traffic = Traffic(cluster.vk, lb.url("/vk/hooked"), **options)
        tg.start_soon(traffic.run)
        yield traffic
        traffic.stop()  # and wait until what it sent is delivered
    await traffic.until_all_replied()


async def while_progress(vk: FakeVK, done: Callable[[], bool], progress: Callable[[], int]) -> None:
    """Wait until `done()`, or until `progress()` has not grown for `STALL` seconds.

    A hang is caught after `STALL` seconds of nothing new rather than a fixed total, so a
    long run on a busy machine is not cut short, and a stuck one costs no more than that.
    """
    while not done():
        seen = progress()
        with anyio.move_on_after(STALL):
            await vk.wait_for(lambda: done() or progress() > seen)  # noqa: B023
        if progress() == seen and not done():
            return


def check(traffic: Traffic, cluster: Cluster, *, again_allowed: bool) -> Counter[str]:
    """Assert nothing lost and no reply seen twice; return how often each tag was handled."""
    got = replies(traffic.vk)
    handled = Counter(tag for _, _, tag in cluster.handled())
    missing = [tag for tag in traffic.sent if not got[tag]]
    twice = {tag: n for tag, n in got.items() if n > 1}
    assert not missing, f"never replied to: {missing}"
    assert not twice, f"replied to more than once: {twice}"
    assert set(handled) == set(traffic.sent)
    if not again_allowed:
        again = {tag: n for tag, n in handled.items() if n > 1}
        where = [row for row in cluster.handled() if row[2] in again]
        assert not again, f"handled more than once (pid, bot, tag): {where}"
    return handled
