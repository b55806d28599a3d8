"""SIGTERM in the middle of a broadcast: `botrt serve` stops within its grace, every time.

Real `botrt serve` processes, FakeVK, one SQLite file. The signal comes at
random points of broadcasts (while batches go out, as a job starts, while it
resumes after the previous stop, as its report goes out); each process must
exit 0 within the grace, stop sending after the batch in flight, and the
restarts between them must finish every job with nobody messaged twice.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process

from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "vk1.a.stop-test-token"
GROUP, ADMIN = 10, 1
MEMBERS = list(range(1000, 1120))  # 120 members + the admin: 13 batches of 10
BATCH = 10
GRACE = 2.0  # seconds `botrt serve --grace` gives the stop
STOPS = 20
# Time for a process to exit after its grace ends (interpreter shutdown); far
# more than it needs. A stop that hangs never gets there.
EXIT_SLACK = 30.0
# Bounds that only catch a hang, far above what a start or a send takes on a busy machine.
START_LIMIT = 60.0


def write_bot(tmp_path: Path, vk: FakeVK) -> Path:
    config = tmp_path / "bot.toml"
    config.write_text(
        f"""
[plugins]
dirs = ["{ROOT / "plugins"}"]
enabled = ["broadcast"]
builtin = false

[plugins.settings.broadcast]
batch_size = {BATCH}

[storage]
url = "sqlite:///botrt.db"

[server]
enabled = false

[[bots]]
name = "g10"
platform = "vk"
token = "${{VK_TOKEN}}"
group_id = {GROUP}
api_url = "{vk.api_url}"
""",
        encoding="utf-8",
    )
    return config


class Served:
    """A running `botrt serve`, its log lines collected as they come."""

    def __init__(self, proc: Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.ended = anyio.Event()  # the log is read to its end
        self._more = anyio.Event()

    async def read(self) -> None:
        assert self.proc.stderr is not None
        tail = b""
        async for chunk in self.proc.stderr:
            *complete, tail = (tail + chunk).split(b"\n")
            self.lines += [line.decode(errors="replace") for line in complete]
            self._more.set()
            self._more = anyio.Event()
        self.ended.set()

    async def wait_line(self, text: str) -> None:
        while not any(text in line for line in self.lines):
            await self._more.wait()


@asynccontextmanager
async def serve(config: Path) -> AsyncIterator[Served]:
    exe = shutil.which("botrt") or "botrt"
    env = {**os.environ, "VK_TOKEN": TOKEN}
    command = [exe, "serve", "--config", str(config), "--no-reload", "--grace", str(GRACE)]
    async with (
        await anyio.open_process(command, env=env, cwd=config.parent) as proc,
        anyio.create_task_group() as tg,
    ):
        served = Served(proc)
        tg.start_soon(served.read)
        try:
            yield served
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            tg.cancel_scope.cancel()


def unfinished_jobs(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM broadcast__jobs WHERE NOT reported OR state = 'running'"
        ).fetchone()
    return int(row[0])


# Twenty real starts: seconds on an idle machine, minutes with every core busy.
@pytest.mark.timeout(900)
async def test_sigterm_at_random_points_of_broadcasts_stops_within_the_grace(
    tmp_path: Path,
) -> None:
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    everyone = [ADMIN, *MEMBERS]
    texts: list[str] = []
    async with FakeVK(rate_limit=20) as vk:
        vk.add_group(GROUP, token=TOKEN, members=everyone, managers={ADMIN: "creator"})
        config = write_bot(tmp_path, vk)
        db = tmp_path / "botrt.db"

        def sent(text: str) -> int:
            return sum(1 for m in vk.sent if m.text == text)

        for stop in range(STOPS):
            async with serve(config) as bot:
                with anyio.fail_after(START_LIMIT):
                    await bot.wait_line("members of g10 synced")
                    polls = stop + 1
                    await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] >= polls)  # noqa: B023
                    if not texts or not unfinished_jobs(db):
                        texts.append(f"Notice number {len(texts) + 1}")
                        vk.push_message(GROUP, ADMIN, f"/mb {texts[-1]}")
                    text = texts[-1]
                    # Anywhere from "at once" to "after the last batch" (the report).
                    target = min(sent(text) + rng.randint(0, len(everyone) // 2), len(everyone))
                    await vk.wait_for(lambda: sent(text) >= target)  # noqa: B023
                # VK holds still while the signal is read, so what is sent after it is
                # the bot's doing, however late a busy machine lets it run.
                vk.hold()
                before = sent(text)
                bot.proc.send_signal(signal.SIGTERM)
                with anyio.fail_after(START_LIMIT):
                    await bot.wait_line("received SIGTERM")
                vk.release()
                with anyio.fail_after(GRACE + EXIT_SLACK):
                    code = await bot.proc.wait()
                    await bot.ended.wait()
                log = "\n".join(bot.lines)
                assert code == 0, f"seed {seed}, stop {stop}: exit {code}\n{log}"
                assert "stopped" in bot.lines[-1], f"seed {seed}, stop {stop}\n{log}"
                # The batches in flight when VK held still may finish; nothing after.
                assert sent(text) - before <= 2 * BATCH, f"seed {seed}, stop {stop}\n{log}"

        # One last start finishes what the stops left.
        async with serve(config) as bot:
            with anyio.fail_after(60):
                await bot.wait_line("members of g10 synced")
                await vk.wait_for(lambda: not unfinished_jobs(db))
            bot.proc.send_signal(signal.SIGTERM)
            with anyio.fail_after(GRACE + EXIT_SLACK):
                assert await bot.proc.wait() == 0

    for text in texts:
        counts = Counter(m.peer_id for m in vk.sent if m.text == text)
        assert counts == Counter(everyone), f"seed {seed}: {text}"


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_a_grace_that_is_not_a_number_of_seconds_is_refused(value: str) -> None:
    exe = shutil.which("botrt") or "botrt"
    result = subprocess.run(
        [exe, "serve", "--grace", value], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert f"argument --grace: {value!r} is not a number of seconds" in result.stderr
