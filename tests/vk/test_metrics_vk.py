"""/healthz and /metrics on the host's HTTP server, scraped after real traffic and a reload."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import anyio
import pytest
from test_host_vk import bots_config, polling, serving

from botrt.host._reload import Reloader
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio

TOKEN = "vk1.a.metrics-test-secret-token"


async def test_metrics_after_events_and_a_reload(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        vk.add_group(10, token=TOKEN, members=[5])
        config = bots_config(vk, tmp_path, [{"name": "g10", "token": TOKEN, "group_id": 10}])
        async with serving(config) as host, aiohttp.ClientSession() as http:
            await polling(vk)
            for i in range(3):
                vk.push_message(10, from_id=5, text=f"/echo {i}")
            with anyio.fail_after(10):
                await vk.wait_for(lambda: len(vk.sent_to(5)) == 3)
                while host.web.runner is None:
                    await anyio.lowlevel.checkpoint()
            who = host.runtime.plugins["who"]
            assert await Reloader(host).reload("who", who.folder)
            base = f"http://127.0.0.1:{host.web.port}"
            async with http.get(f"{base}/healthz") as response:
                assert response.status == 200
                assert (await response.json())["adapters"] == {"vk:g10": True}
            async with http.get(f"{base}/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain")
                text = await response.text()
    lines = set(text.splitlines())
    assert 'botrt_events_received_total{bot="g10",platform="vk"} 3.0' in lines
    assert 'botrt_events_handled_total{bot="g10",platform="vk"} 3.0' in lines
    assert 'botrt_event_seconds_count{platform="vk"} 3.0' in lines
    assert 'botrt_reloads_total{result="ok"} 1.0' in lines
    assert 'botrt_vk_api_calls_total{bot="g10",method="messages.send"} 3.0' in lines
    assert 'botrt_plugin_info{plugin="echo",version="1.0.0"} 1.0' in lines
    assert "botrt_queue_depth 0.0" in lines
    assert TOKEN not in text


async def test_a_console_bot_opens_no_port(tmp_path: Path) -> None:
    from botrt.config import parse_config
    from botrt.host import Host

    host = Host(parse_config({"console": {"enabled": False}}, base_dir=tmp_path))
    assert host.config.server_active is False
