"""A real `botrt serve` process talking to FakeVK through `api_url`."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import anyio
import pytest

from botrt.testing._fakevk import FakeVK
from botrt.testing._ports import free_port

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "vk1.a.super-secret-community-token"


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


async def test_json_logs_parse_and_no_secret_is_ever_printed(tmp_path: Path) -> None:
    import json

    import aiohttp

    secret, confirmation = "cb-secret-0123456789", "confirm-abcdef"
    port = free_port()
    async with FakeVK() as vk:
        vk.add_group(10, token=TOKEN, members=[5])
        vk.add_group(20, token=TOKEN + "-b", members=[6])
        config = tmp_path / "bot.toml"
        config.write_text(
            f"""
[plugins]
dirs = ["{ROOT / "examples"}"]
builtin = false

[server]
port = {port}

[[bots]]
name = "poll"
platform = "vk"
token = "${{VK_TOKEN}}"
group_id = 10
api_url = "{vk.api_url}"

[[bots]]
name = "hook"
platform = "vk"
token = "${{VK_TOKEN}}-b"
group_id = 20
transport = "callback"
path = "/vk/hook"
secret = "{secret}"
confirmation = "{confirmation}"
api_url = "{vk.api_url}"
""",
            encoding="utf-8",
        )
        env = {**os.environ, "VK_TOKEN": TOKEN}
        exe = shutil.which("botrt") or "botrt"
        out: list[bytes] = []
        err: list[bytes] = []
        command = [exe, "serve", "--config", str(config), "--no-reload", "--log-format", "json"]
        async with (
            await anyio.open_process([*command, "--log-level", "DEBUG"], env=env) as proc,
            anyio.create_task_group() as tg,
            aiohttp.ClientSession() as http,
        ):

            async def drain(stream: object, into: list[bytes]) -> None:
                async for chunk in stream:  # type: ignore[attr-defined]
                    into.append(chunk)

            tg.start_soon(drain, proc.stdout, out)
            tg.start_soon(drain, proc.stderr, err)
            with anyio.fail_after(20):
                await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] >= 1)
                vk.push_message(10, from_id=5, text="/echo polled")
                url = f"http://127.0.0.1:{port}/vk/hook"
                confirm = vk.make_event(20, "confirmation", {})
                while True:  # until the server has bound its port (status 0: no answer)
                    (answer,) = await vk.deliver_callback(url, confirm, secret=secret)
                    if answer.status:
                        break
                    await anyio.lowlevel.checkpoint()
                assert answer.text == confirmation
                await vk.deliver_callback(
                    url, vk.build_message(20, 6, "/echo hooked"), secret=secret
                )
                await vk.wait_for(lambda: bool(vk.sent_to(5)) and bool(vk.sent_to(6)))
                async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                    metrics = await response.text()
            proc.send_signal(signal.SIGTERM)
            with anyio.fail_after(20):
                assert await proc.wait() == 0
        logs = b"".join(err).decode()
        printed = logs + b"".join(out).decode() + metrics
    records = [json.loads(line) for line in logs.splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any("plugin echo 1.0.0 loaded" in r["message"] for r in records)
    assert "botrt_events_received_total" in metrics
    for value in (TOKEN, TOKEN + "-b", secret, confirmation):
        assert value not in printed
