"""Real `botrt serve` processes for tests: their `bot.toml`, a plugin that logs what it
handled, starting them, waiting until they serve, and stopping or killing them.

Shared by the crash test (``tests/test_crash_durable.py``), the cluster tests
(``tests/cluster/``) and ``benchmarks/cluster.py`` (through ``clusterkit``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from anyio.abc import Process

from botrt.testing._fakevk import FakeVK

LIMIT = 120.0  # catches a hang only: starts take seconds on a busy machine

TALLY = """
import os

from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import CommandArgs, on_command

PLUGIN = PluginPlanner(version="1.0.0")


@PLUGIN.use
@on_command("n")
async def tally(event: TextEvent, args: CommandArgs) -> None:
    with open({log!r}, "a", encoding="utf-8") as log:
        log.write(f"{{os.getpid()}} {{event.bot}} {{args}}\\n")
    await event.reply(f"got {{args}}")
"""
"""A plugin that answers ``/n TAG`` with ``got TAG``, logging ``PID BOT TAG`` first."""


async def until(predicate: Callable[[], bool]) -> None:
    """Wait until `predicate()` is true, for what only files show (the workers' logs)."""
    with anyio.fail_after(LIMIT):
        # A log file has no event to wait on: look again shortly.
        while not predicate():  # noqa: ASYNC110
            await anyio.sleep(0.02)


async def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    try:
        stream = await anyio.connect_tcp("127.0.0.1", port)
    except OSError:
        return False
    await stream.aclose()
    return True


async def wait_port(port: int) -> None:
    """Wait until 127.0.0.1:`port` accepts connections (bounded by `LIMIT`)."""
    with anyio.fail_after(LIMIT):
        # Nothing to wait on but the port itself: try again shortly.
        while not await port_open(port):  # noqa: ASYNC110
            await anyio.sleep(0.05)


def write_plugin(folder: Path, source: str, name: str = "tally") -> str:
    """Write the plugin `name` (its `source`) under `folder`/plugins, once; return the
    ``[plugins]`` table's lines that load it alone.
    """
    plugin = folder / "plugins" / name
    if not plugin.exists():
        plugin.mkdir(parents=True)
        (plugin / "__plugin__.py").write_text(source, encoding="utf-8")
    return f"dirs = [{json.dumps(str(folder / 'plugins'))}]\nbuiltin = false"


def write_tally(folder: Path) -> str:
    """Write `TALLY`, logging to `folder`/handled.log; return the ``[plugins]`` lines."""
    return write_plugin(folder, TALLY.format(log=str(tally_log(folder))))


def tally_log(folder: Path) -> Path:
    """Where `TALLY`, written by `write_tally(folder)`, logs."""
    return folder / "handled.log"


def tallied(folder: Path) -> list[tuple[int, str, str]]:
    """(pid, bot, tag) of every handling `TALLY` logged, in order."""
    log = tally_log(folder)
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return [(int(pid), bot, tag) for pid, bot, tag in (line.split() for line in lines)]


def replies(vk: FakeVK) -> Counter[str]:
    """How many times each tag was replied to (``got TAG``), as users saw it."""
    return Counter(m.text.removeprefix("got ") for m in vk.sent if m.text.startswith("got "))


def vk_bot(vk: FakeVK, name: str, group: int, token: str, *, secret: str | None = None) -> str:
    """A ``[[bots]]`` table: a VK bot on Long Poll, or with `secret` on the Callback API
    at ``/vk/NAME``.
    """
    table = (
        f'\n[[bots]]\nname = "{name}"\nplatform = "vk"\ntoken = "{token}"\n'
        f'group_id = {group}\napi_url = "{vk.api_url}"\n'
    )
    if secret is not None:
        table += (
            f'transport = "callback"\npath = "/vk/{name}"\nsecret = "{secret}"\n'
            'confirmation = "abc"\n'
        )
    return table


def write_config(
    path: Path,
    *,
    plugins: str,
    storage_url: str,
    port: int | None,
    bots: Iterable[str],
    cluster: Mapping[str, str | float] | None = None,
    extra: str = "",
) -> Path:
    """Write a ``bot.toml`` to `path`: the ``[plugins]`` lines `plugins`, a server on
    127.0.0.1:`port` (None: no server), the ``[cluster]`` keys `cluster` (``enabled``
    implied), the ``[[bots]]`` tables `bots`, then `extra`; return `path`.
    """
    server = "enabled = false" if port is None else f'host = "127.0.0.1"\nport = {port}'
    text = f'[plugins]\n{plugins}\n\n[storage]\nurl = "{storage_url}"\n\n[server]\n{server}\n'
    if cluster is not None:
        keys = "".join(f"{key} = {json.dumps(value)}\n" for key, value in cluster.items())
        text += f"\n[cluster]\nenabled = true\n{keys}"
    path.write_text(text + "".join(bots) + extra, encoding="utf-8")
    return path


class Worker:
    """One `botrt serve` process with its config file; its log (stderr) is ``NAME.log``
    next to the config, kept across restarts. `port`: its HTTP server's, if it has one.
    """

    def __init__(self, config: Path, name: str, port: int | None = None) -> None:
        self.config = config
        self.name = name
        self.port = port
        self.log = config.parent / f"{name}.log"
        self.proc: Process | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        """The base URL of its HTTP server."""
        assert self.port is not None, f"worker {self.name} has no server"
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start the process (again, after a stop); its log goes on in the same file."""
        # The venv's own script, also when the venv is not activated (the benchmark).
        exe = shutil.which("botrt") or str(Path(sys.executable).with_name("botrt"))
        command = [exe, "serve", "--config", str(self.config), "--no-reload", "--grace", "5"]
        if self.proc is not None:
            await self.close()
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"--- start {self.starts} ---\n".encode())
            out.flush()
            self.proc = await anyio.open_process(
                command, cwd=self.config.parent, stdout=subprocess.DEVNULL, stderr=out
            )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Worker]:
        """Started for the block; killed at its end if still running."""
        await self.start()
        try:
            yield self
        finally:
            await self.close()

    async def ready(self) -> None:
        """Wait until its HTTP server accepts connections."""
        assert self.port is not None, f"worker {self.name} has no server"
        await wait_port(self.port)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def says(self, text: str) -> bool:
        return text in self.text()

    async def wait_says(self, text: str) -> None:
        await until(lambda: self.says(text))

    def cpu_seconds(self) -> float:
        """User + system CPU time of the running process so far (Linux /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def terminate(self) -> int:
        """SIGTERM, and wait for the exit code."""
        assert self.proc is not None
        self.proc.terminate()
        with anyio.fail_after(LIMIT):
            return await self.proc.wait()

    async def kill(self) -> int:
        """SIGKILL, and reap it; returns the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        return await self.proc.wait()

    async def close(self) -> None:
        """Kill it if it still runs, and reap it."""
        if self.proc is not None:
            if self.proc.returncode is None:
                self.proc.kill()
            await self.proc.wait()
            await self.proc.aclose()
