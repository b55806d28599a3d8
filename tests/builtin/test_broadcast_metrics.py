"""Broadcast progress on /metrics, scraped from a real host while a job runs and after."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import anyio
import pytest
from test_broadcast_vk import ADMIN, BOT, GROUP, community, config_for, serving

from botrt.host import Host
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio


async def scrape(host: Host) -> set[str]:
    with anyio.fail_after(10):
        while host.web.runner is None:
            await anyio.lowlevel.checkpoint()
    url = f"http://127.0.0.1:{host.web.port}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 200
        return set((await response.text()).splitlines())


def replies(vk: FakeVK) -> list[str]:
    return [m.text for m in vk.sent_to(ADMIN)]


async def test_progress_while_a_job_waits_and_after_jobs_end(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        community(vk, range(2000, 2010))
        vk.block(2001, 901)
        vk.block(2002, 902)
        # The first batch is refused: job #1 waits an hour to retry, so it
        # stays running with everyone left until it is cancelled.
        vk.fail_next("execute", vk_error=100)
        config = config_for(vk, tmp_path, {"retry_delay": 3600})
        async with serving(config, vk) as host:
            vk.push_message(GROUP, ADMIN, "/mb First")
            with anyio.fail_after(10):
                await vk.wait_for(lambda: "Broadcast #1 started: 11 recipients." in replies(vk))
            during = await scrape(host)

            vk.push_message(GROUP, ADMIN, "/mb cancel 1")
            with anyio.fail_after(10):
                await host.background.wait_idle("broadcast")
            vk.push_message(GROUP, ADMIN, "/mb Second")
            with anyio.fail_after(30):
                await vk.wait_for(
                    lambda: any(t.startswith("Broadcast #2 finished") for t in replies(vk))
                )
                await host.background.wait_idle("broadcast")
            after = await scrape(host)

    assert f'botrt_broadcast_jobs{{bot="{BOT}",state="running"}} 1.0' in during
    assert f'botrt_broadcast_recipients_left{{bot="{BOT}"}} 11.0' in during
    assert not any(line.startswith("botrt_broadcast_recipients_total{") for line in during)

    assert f'botrt_broadcast_jobs{{bot="{BOT}",state="running"}} 0.0' in after
    assert f'botrt_broadcast_recipients_left{{bot="{BOT}"}} 0.0' in after
    assert f'botrt_broadcast_recipients_total{{bot="{BOT}",outcome="sent"}} 9.0' in after
    assert f'botrt_broadcast_recipients_total{{bot="{BOT}",outcome="failed"}} 2.0' in after
    assert f'botrt_broadcast_jobs_ended_total{{bot="{BOT}",state="cancelled"}} 1.0' in after
    assert f'botrt_broadcast_jobs_ended_total{{bot="{BOT}",state="finished"}} 1.0' in after
