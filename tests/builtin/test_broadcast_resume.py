"""A broadcast survives ``kill -9``: real ``botrt serve`` processes, FakeVK, a SQLite file."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process

from botrt.testing._fakevk import FakeVK
from botrt.testing._ports import free_port

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "vk1.a.resume-test-token"
GROUP, ADMIN = 10, 1
MEMBERS = list(range(1000, 1600))  # 600 members + the admin: 13 batches of 50
TEXT = "Exam moved to Friday"


def write_bot(tmp_path: Path, vk: FakeVK) -> Path:
    config = tmp_path / "bot.toml"
    config.write_text(
        f"""
[plugins]
dirs = ["{ROOT / "plugins"}"]
enabled = ["broadcast"]
builtin = false

[plugins.settings.broadcast]
batch_size = 50

[storage]
url = "sqlite:///botrt.db"

[server]
port = {free_port()}

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


def stored_members(db: Path) -> int:
    """How many members of g10 the running bot has committed (0 before its first sync)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT count(*) FROM botrt__members WHERE bot = 'g10'").fetchone()
    except sqlite3.OperationalError:  # the table is not created yet
        return 0
    return int(row[0])


@asynccontextmanager
async def serve(config: Path) -> AsyncIterator[Process]:
    """`botrt serve` in its own process, its log drained so a full pipe never blocks it."""
    exe = shutil.which("botrt") or "botrt"
    env = {**os.environ, "VK_TOKEN": TOKEN}
    command = [exe, "serve", "--config", str(config), "--no-reload"]
    async with (
        await anyio.open_process(command, env=env, cwd=config.parent) as proc,
        anyio.create_task_group() as tg,
    ):

        async def drain() -> None:
            assert proc.stderr is not None
            async for _ in proc.stderr:
                pass

        tg.start_soon(drain)
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            tg.cancel_scope.cancel()


def job_reported(db: Path) -> bool:
    """Whether the bot has recorded that job 1's report went out."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
        row = conn.execute("SELECT reported FROM broadcast__jobs WHERE id = 1").fetchone()
    return bool(row and row[0])


def broadcast_counts(vk: FakeVK) -> Counter[int]:
    return Counter(m.peer_id for m in vk.sent if m.text == TEXT)


def reports(vk: FakeVK) -> list[str]:
    return [m.text for m in vk.sent_to(ADMIN) if m.text.startswith("Broadcast #1 finished")]


async def test_a_killed_broadcast_is_finished_by_the_next_start_exactly_once(
    tmp_path: Path,
) -> None:
    async with FakeVK(rate_limit=20) as vk:
        vk.add_group(GROUP, token=TOKEN, members=[ADMIN, *MEMBERS], managers={ADMIN: "creator"})
        config = write_bot(tmp_path, vk)
        everyone = [ADMIN, *MEMBERS]

        async with serve(config) as first:
            with anyio.fail_after(30):
                await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] >= 1)
                # Checked after each request FakeVK answers (Long Poll keeps asking).
                await vk.wait_for(lambda: stored_members(tmp_path / "botrt.db") == len(everyone))
            vk.slow(0.3)  # each request now takes a while: the job is caught halfway
            vk.push_message(GROUP, ADMIN, f"/mb {TEXT}")
            with anyio.fail_after(60):
                await vk.wait_for(lambda: len(broadcast_counts(vk)) >= 100)
            # FakeVK has just delivered a batch the bot has most likely not recorded yet:
            # the next start sends it again, and FakeVK, like VK, drops the repeats.
            first.send_signal(signal.SIGKILL)
            await first.wait()
        halfway = len(broadcast_counts(vk))
        assert 100 <= halfway < len(everyone)
        assert reports(vk) == []

        vk.slow(0)
        async with serve(config) as second:
            with anyio.fail_after(60):
                await vk.wait_for(lambda: bool(reports(vk)))
                await vk.wait_for(lambda: job_reported(tmp_path / "botrt.db"))
            second.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                assert await second.wait() == 0

    assert broadcast_counts(vk) == Counter(everyone)  # nobody missed, nobody twice
    (report,) = reports(vk)
    assert report.splitlines()[2:] == ["Planned: 601", "Sent: 601", "Failed: 0"]
    started = [m.text for m in vk.sent_to(ADMIN) if m.text.startswith("Broadcast #1 started")]
    assert started == ["Broadcast #1 started: 601 recipients."]


def count_rows(db: Path, query: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
        try:
            return int(conn.execute(query).fetchone()[0])
        except sqlite3.OperationalError:  # the table is not created yet
            return 0


async def test_a_command_handled_again_after_a_kill_starts_no_second_job(tmp_path: Path) -> None:
    db = tmp_path / "botrt.db"
    async with FakeVK(rate_limit=20) as vk:
        vk.add_group(GROUP, token=TOKEN, members=[ADMIN, *MEMBERS], managers={ADMIN: "creator"})
        config = write_bot(tmp_path, vk)
        everyone = [ADMIN, *MEMBERS]

        async with serve(config) as first:
            with anyio.fail_after(30):
                await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] >= 1)
                await vk.wait_for(lambda: stored_members(db) == len(everyone))
            # Nothing is sent from now on: the command's reply, and the job's first
            # batch, wait at VK. The command's handling has stored its job, not ended.
            vk.hold("messages.send")
            vk.push_message(GROUP, ADMIN, f"/mb {TEXT}")
            with anyio.fail_after(30):
                await vk.wait_for(
                    lambda: count_rows(db, "SELECT count(*) FROM broadcast__jobs") == 1
                )
            first.send_signal(signal.SIGKILL)
            await first.wait()
        # The command is recorded and not handled: the next start handles it again.
        unhandled = "SELECT count(*) FROM botrt_inbox WHERE handled_at IS NULL"
        assert count_rows(db, unhandled) == 1
        vk.release("messages.send")
        assert broadcast_counts(vk) == Counter()

        async with serve(config) as second:
            with anyio.fail_after(60):
                await vk.wait_for(lambda: bool(reports(vk)))
                await vk.wait_for(lambda: job_reported(db))
                await vk.wait_for(lambda: count_rows(db, unhandled) == 0)
            second.send_signal(signal.SIGTERM)
            with anyio.fail_after(30):
                assert await second.wait() == 0

    assert count_rows(db, "SELECT count(*) FROM broadcast__jobs") == 1  # not started twice
    assert broadcast_counts(vk) == Counter(everyone)  # nobody missed, nobody twice
    assert len(reports(vk)) == 1
    started = [m.text for m in vk.sent_to(ADMIN) if m.text.startswith("Broadcast #")]
    assert started[0] == "Broadcast #1 started: 601 recipients."
