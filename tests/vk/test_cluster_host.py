"""`[cluster]` in real hosts (issue 17 items 1 and 3): without it nothing changes; with it,
hosts on one PostgreSQL take turns at each bot's Long Poll through the storage's leases,
and a host that stops hands its bot over at once, nothing handled twice.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from twohosts import Served

from _workers import until
from botrt.config import parse_config
from botrt.host import Host
from botrt.protocols.vk._adapters import VkLongPollAdapter
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
GROUP, USER = 31, 5


def config_for(vk: FakeVK, tmp_path: Path, url: str, cluster: dict[str, Any] | None) -> Any:
    data: dict[str, Any] = {
        "plugins": {"dirs": [str(ROOT / "examples")], "enabled": ["echo"], "builtin": False},
        "storage": {"url": url},
        "server": {"enabled": False},
        "bots": [
            {"name": "poller", "platform": "vk", "api_url": vk.api_url, "token": "token-a"}
            | {"group_id": GROUP}
        ],
    }
    if cluster is not None:
        data["cluster"] = cluster
    return parse_config(data, base_dir=tmp_path)


def poller(host: Host) -> VkLongPollAdapter:
    (adapter,) = [a for a in host.adapters if isinstance(a, VkLongPollAdapter)]
    return adapter


@pytest.fixture
async def vk() -> AsyncIterator[FakeVK]:
    async with FakeVK(longpoll_wait_cap=0.3) as fake:
        fake.add_group(GROUP, token="token-a", members=[USER])
        yield fake


async def test_without_cluster_the_poller_has_no_leadership(vk: FakeVK, tmp_path: Path) -> None:
    host = Host(config_for(vk, tmp_path, f"sqlite:///{tmp_path / 'bot.db'}", None))
    assert not await host.start()
    try:
        assert poller(host).leadership is None
    finally:
        await host.stop()


def texts(vk: FakeVK) -> list[str]:
    return [m.text for m in vk.sent if m.group_id == GROUP]


async def test_two_hosts_one_polls_a_stop_hands_over_at_once(
    vk: FakeVK, tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("botrt.storage._lease", reason="the storage's leases (branch durable2)")
    caplog.set_level(logging.INFO)
    first = config_for(vk, tmp_path, postgres_url, {"enabled": True, "worker_id": "w1"})
    second = config_for(vk, tmp_path, postgres_url, {"enabled": True, "worker_id": "w2"})
    one, two = Served(first), Served(second)
    async with anyio.create_task_group() as tg:
        await one.start(tg)
        lead = poller(one.host).leadership
        assert lead is not None
        assert lead.owner == "w1"
        with anyio.fail_after(30):
            await vk.wait_for(lambda: vk.longpoll_requests > 0)
        await two.start(tg)
        standby = poller(two.host).leadership
        assert standby is not None
        # w2 must have found w1 leading before w1 stops (on a busy machine its first
        # look could come after the release, and it would simply lead).
        await until(lambda: "worker w2 stands by for vk-longpoll:poller, led by w1" in caplog.text)
        vk.push_message(GROUP, USER, "/echo one")
        with anyio.fail_after(30):
            await vk.wait_for(lambda: texts(vk) == ["one"])
        assert lead.leads()
        assert not standby.leads()
        servers = vk.calls["groups.getLongPollServer"]
        await one.stop()  # w1 drains, writes its marks, releases: w2 takes over at once
        with anyio.fail_after(30):
            await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] > servers)
        assert standby.leads()
        vk.push_message(GROUP, USER, "/echo two")
        with anyio.fail_after(30):
            await vk.wait_for(lambda: texts(vk) == ["one", "two"])
        await two.stop()
    assert texts(vk) == ["one", "two"]  # "one" was not handled again by w2
    assert "cluster worker w1: leads the Long Poll of bots poller" in caplog.text
    assert "worker w1 leads vk-longpoll:poller (epoch 1)" in caplog.text
    assert "worker w2 stands by for vk-longpoll:poller, led by w1" in caplog.text
    assert "worker w1 released vk-longpoll:poller" in caplog.text
    assert "worker w2 leads vk-longpoll:poller (epoch 2)" in caplog.text
