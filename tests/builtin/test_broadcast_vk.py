"""The broadcast plugin end to end: a real host, VK long poll and API served by FakeVK."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from botrt.config import parse_config
from botrt.host import Host
from botrt.testing._fakevk import FakeVK
from botrt.testing._ports import free_port

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
GROUP, TOKEN, BOT = 10, "vk1.a.broadcast-test-token", "g10"
ADMIN = 1000


def config_for(vk: FakeVK, tmp_path: Path, settings: dict[str, Any] | None = None) -> Any:
    return parse_config(
        {
            "plugins": {
                "dirs": [str(ROOT / "plugins")],
                "enabled": ["broadcast"],
                "builtin": False,
                "reload": False,
                "settings": {"broadcast": settings or {}},
            },
            "storage": {"url": f"sqlite:///{tmp_path / 'botrt.db'}"},
            "server": {"host": "127.0.0.1", "port": free_port()},
            "bots": [
                {
                    "name": BOT,
                    "platform": "vk",
                    "token": TOKEN,
                    "group_id": GROUP,
                    "api_url": vk.api_url,
                    "rate_limit": 20,
                }
            ],
        },
        base_dir=tmp_path,
    )


@asynccontextmanager
async def serving(config: Any, vk: FakeVK) -> AsyncIterator[Host]:
    """A started, serving host whose members are synced and whose long poll listens."""
    host = Host(config)
    assert not await host.start()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: host.serve(signals=False))
            await host.sync_members()
            with anyio.fail_after(10):
                await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] >= 1)
            yield host
            with anyio.fail_after(10):
                await host.background.wait_idle("broadcast")
            host.request_stop()
    finally:
        await host.stop()


def community(vk: FakeVK, members: Iterable[int]) -> list[int]:
    people = [ADMIN, *members]
    vk.add_group(GROUP, token=TOKEN, members=people, managers={ADMIN: "administrator"})
    vk.add_user(ADMIN, "Ada", "Admin")
    return people


def reports_to(vk: FakeVK, peer: int) -> list[str]:
    return [m.text for m in vk.sent_to(peer) if m.text.startswith("Broadcast #1 finished")]


async def wait_report(vk: FakeVK) -> str:
    with anyio.fail_after(30):
        await vk.wait_for(lambda: bool(reports_to(vk, ADMIN)))
    (report,) = reports_to(vk, ADMIN)
    return report


async def test_460_members_each_reached_once_within_the_rate_limit(tmp_path: Path) -> None:
    async with FakeVK(rate_limit=20) as vk:
        people = community(vk, range(2000, 2459))
        config = config_for(vk, tmp_path, {"batch_size": 50})
        async with serving(config, vk):
            vk.push_message(GROUP, ADMIN, "/mb Exam moved to Friday")
            report = await wait_report(vk)
        got = Counter(m.peer_id for m in vk.sent if m.text == "Exam moved to Friday")
        assert got == Counter(people)  # everyone, exactly once
        assert vk.sent_to(ADMIN)[0].text == "Broadcast #1 started: 460 recipients."
        assert vk.calls["execute"] == 10  # 460 recipients, 50 a batch, one request a batch
        assert vk.rate_limited == 0
        assert report.splitlines() == [
            "Broadcast #1 finished: all members.",
            'Text: "Exam moved to Friday"',
            "Planned: 460",
            "Sent: 460",
            "Failed: 0",
        ]


async def test_attachments_go_with_the_text_and_unreachable_members_are_reported(
    tmp_path: Path,
) -> None:
    async with FakeVK() as vk:
        people = community(vk, range(2000, 2010))
        vk.add_user(2001, "Boris", "Closed")
        vk.add_user(2002, "Vera", "Private")
        vk.block(2001, 901)
        vk.block(2002, 902)
        attachments = [
            {"type": "photo", "photo": {"id": 457239017, "owner_id": ADMIN, "access_key": "a1"}},
            {"type": "doc", "doc": {"id": 66, "owner_id": ADMIN, "ext": "pdf"}},
            {"type": "sticker", "sticker": {"sticker_id": 9}},
        ]
        async with serving(config_for(vk, tmp_path), vk):
            vk.push_message(GROUP, ADMIN, "/broadcast Timetable", attachments=attachments)
            report = await wait_report(vk)
        broadcast = [m for m in vk.sent if m.text == "Timetable"]
        assert sorted(m.peer_id for m in broadcast) == sorted(set(people) - {2001, 2002})
        assert {m.attachment for m in broadcast} == {f"photo{ADMIN}_457239017_a1,doc{ADMIN}_66"}
        assert report.splitlines()[2:] == [
            "Planned: 11",
            "Sent: 9",
            "Failed: 2",
            "- 901 never allowed messages from the community: 1",
            "  Boris Closed (id2001)",
            "- 902 privacy settings: 1",
            "  Vera Private (id2002)",
        ]


async def test_attachments_alone_are_enough_to_broadcast(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        community(vk, [2000])
        photo = [{"type": "photo", "photo": {"id": 5, "owner_id": -GROUP}}]
        async with serving(config_for(vk, tmp_path), vk):
            vk.push_message(GROUP, ADMIN, "/mb", attachments=photo)
            await wait_report(vk)
        assert [(m.text, m.attachment) for m in vk.sent_to(2000)] == [("", f"photo-{GROUP}_5")]


async def test_a_text_over_4096_characters_arrives_in_parts_and_the_report_fits(
    tmp_path: Path,
) -> None:
    async with FakeVK() as vk:
        people = community(vk, range(2000, 2005))
        text = "\n".join(f"Line {i}:" + " word" * 20 for i in range(100))  # about 11,000
        async with serving(config_for(vk, tmp_path), vk):
            vk.push_message(GROUP, ADMIN, "/mb " + text)
            report = await wait_report(vk)
        for peer in people:
            parts = [m.text for m in vk.sent_to(peer) if m.text.startswith("Line")]
            assert len(parts) == 3
            assert all(len(p) <= 4096 for p in parts)
            assert "\n".join(parts) == text
        assert len(report) <= 4096
        assert vk.calls["execute"] == 3  # one request per part: all peers fit one batch
