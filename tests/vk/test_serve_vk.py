"""A real `botrt serve` process talking to FakeVK through `api_url`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
from pathlib import Path

import anyio
import pytest

from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "vk1.a.super-secret-community-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_serve_answers_through_fakevk_and_never_prints_the_token(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        vk.add_group(10, token=TOKEN, members=[5])
        config = tmp_path / "bot.toml"
        config.write_text(
            f"""
[plugins]
dirs = ["{ROOT / "examples"}"]
builtin = false

[server]
port = {free_port()}

[[bots]]
name = "group10"
platform = "vk"
token = "${{VK_TOKEN}}"
group_id = 10
api_url = "{vk.api_url}"
""",
            encoding="utf-8",
        )
        env = {**os.environ, "VK_TOKEN": TOKEN}
        exe = shutil.which("botrt") or "botrt"
        chunks: list[bytes] = []
        async with (
            await anyio.open_process(
                [exe, "serve", "--config", str(config), "--no-reload", "--log-level", "DEBUG"],
                env=env,
            ) as proc,
            anyio.create_task_group() as tg,
        ):
            assert proc.stderr is not None

            async def drain() -> None:  # a full pipe would block the process
                async for chunk in proc.stderr:  # type: ignore[union-attr]
                    chunks.append(chunk)

            tg.start_soon(drain)
            with anyio.fail_after(20):
                await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] >= 1)
                vk.push_message(10, from_id=5, text="/echo from a real process")
                await vk.wait_for(lambda: bool(vk.sent_to(5)))
            proc.send_signal(signal.SIGTERM)
            with anyio.fail_after(20):
                code = await proc.wait()
        err = b"".join(chunks).decode()
        assert code == 0
        assert [m.text for m in vk.sent_to(5)] == ["from a real process"]
        assert "vk callback" not in err  # long poll only: no HTTP server
        assert "plugin echo 1.0.0 loaded" in err  # the log was captured...
        assert TOKEN not in err  # ...and the token is nowhere in it
