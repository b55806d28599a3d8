"""The attendance plugin end to end over VK: FakeVK, a real host, Long Poll, documents."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from botrt.config import BotConfig, parse_config
from botrt.host import Host
from botrt.testing import FakeVK
from botrt.testing._ports import free_port

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
GROUP = 10
HEAD, ANNA, IVAN = 5, 6, 7
CHAT = 2_000_000_001


def config(vk: FakeVK, tmp_path: Path) -> BotConfig:
    return parse_config(
        {
            "plugins": {
                "dirs": [str(ROOT / "plugins")],
                "enabled": ["attendance"],
                "builtin": False,
                "reload": False,
                "settings": {"attendance": {"lessons": ["math", "physics"]}},
            },
            "storage": {"url": "sqlite:///bot.db"},
            "server": {"host": "127.0.0.1", "port": free_port()},
            "bots": [
                {
                    "name": "g10",
                    "platform": "vk",
                    "token": "token-a",
                    "group_id": GROUP,
                    "api_url": vk.api_url,
                }
            ],
        },
        base_dir=tmp_path,
    )


@asynccontextmanager
async def serving(config: BotConfig) -> AsyncIterator[Host]:
    host = Host(config)
    assert not await host.start()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: host.serve(signals=False))
            yield host
            host.request_stop()
    finally:
        await host.stop()


async def replies(vk: FakeVK, peer: int, count: int) -> list[str]:
    with anyio.fail_after(10):
        await vk.wait_for(lambda: len(vk.sent_to(peer)) >= count)
    return [m.text for m in vk.sent_to(peer)]


async def test_admin_marks_and_exports_through_vk(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        managers = {HEAD: "administrator"}
        vk.add_group(GROUP, token="token-a", members=[HEAD, ANNA, IVAN], managers=managers)
        vk.add_user(HEAD, "Head", "Man")
        vk.add_user(ANNA, "Anna", "Petrova")
        vk.add_user(IVAN, "Ivan", "Ivanov")
        async with serving(config(vk, tmp_path)) as host:
            await host.sync_members()  # the managers are the admins
            with anyio.fail_after(10):
                await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] >= 1)

            command = "/absent Petrova, [id7|Ivan Ivanov] --lesson math --date 2026-09-01"
            vk.push_message(GROUP, HEAD, command)
            assert await replies(vk, HEAD, 1) == [
                "Marked absent on 2026-09-01, math: Anna Petrova, Ivan Ivanov"
            ]
            vk.push_message(GROUP, ANNA, "/absent Ivanov --date 2026-09-01")
            assert await replies(vk, ANNA, 1) == ["Only admins can use absent."]
            vk.push_message(GROUP, ANNA, "/attendance")
            assert (await replies(vk, ANNA, 2))[1] == "Your absences: 1 (math 1)\n2026-09-01: math"

            # In the group chat: the document goes to the chat, attached to the reply.
            vk.push_message(GROUP, HEAD, "/attendance export 2026-09", peer_id=CHAT)
            (text,) = await replies(vk, CHAT, 1)
            assert text == "Attendance export, 2026-09-01..2026-09-30: 2 marks."
            (message,) = vk.sent_to(CHAT)
            (doc,) = vk.docs
            assert message.attachment == doc.attachment == f"doc-{GROUP}_1"
            assert doc.peer_id == CHAT
            assert doc.title == "Attendance, 2026-09-01..2026-09-30"
            assert doc.filename.startswith("attendance-g10-2026-09-01_2026-09-30-")
            rows = list(csv.reader(io.StringIO(doc.data.decode("utf-8-sig"))))
            assert [row[:5] for row in rows] == [
                ["date", "lesson", "user_id", "name", "marked_by"],
                ["2026-09-01", "math", str(ANNA), "Anna Petrova", str(HEAD)],
                ["2026-09-01", "math", str(IVAN), "Ivan Ivanov", str(HEAD)],
            ]
            # Nothing was written to disk on VK.
            assert not (tmp_path / "exports").exists()


async def test_a_failed_upload_is_reported(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        vk.add_group(GROUP, token="token-a", members=[HEAD, ANNA], managers={HEAD: "creator"})
        vk.add_user(ANNA, "Anna", "Petrova")
        async with serving(config(vk, tmp_path)) as host:
            await host.sync_members()
            with anyio.fail_after(10):
                await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] >= 1)
            vk.push_message(GROUP, HEAD, "/absent Petrova --date 2026-09-01")
            await replies(vk, HEAD, 1)
            vk.fail_next("docs.save", vk_error=15)
            vk.push_message(GROUP, HEAD, "/attendance export")
            texts = await replies(vk, HEAD, 2)
            assert texts[1] == (
                "The export could not be uploaded to VK: "
                "VK API error 15 in docs.save: Injected error 15"
            )
            assert vk.sent_to(HEAD)[1].attachment is None
            assert vk.docs == []


async def test_rollcall_by_buttons_through_vk(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        vk.add_group(GROUP, token="token-a", members=[HEAD, ANNA, IVAN], managers={HEAD: "creator"})
        vk.add_user(HEAD, "Head", "Man")
        vk.add_user(ANNA, "Anna", "Petrova")
        vk.add_user(IVAN, "Ivan", "Ivanov")
        async with serving(config(vk, tmp_path)) as host:
            await host.sync_members()
            with anyio.fail_after(10):
                await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] >= 1)
            vk.push_message(GROUP, HEAD, "/rollcall --lesson physics --date 2026-09-02")
            assert (await replies(vk, HEAD, 1))[0].startswith("Roll call on 2026-09-02, physics")
            # VK accepted the keyboard (FakeVK validates it as VK does) and shows it.
            assert vk.buttons(HEAD) == ["Ivan Ivanov", "Head Man", "Anna Petrova", "Done", "Cancel"]
            vk.press(HEAD, "Anna Petrova")
            assert (await replies(vk, HEAD, 2))[1] == "1 absent: Anna Petrova. Tap more, or Done."
            assert "❌ Anna Petrova" in vk.buttons(HEAD)
            vk.press(HEAD, "Done")
            assert (await replies(vk, HEAD, 3))[2] == (
                "Roll call on 2026-09-02, physics: 1 of 3 absent.\n"
                "Marked absent on 2026-09-02, physics: Anna Petrova"
            )
            assert vk.buttons(HEAD) == []  # the empty keyboard removed the names
            vk.push_message(GROUP, ANNA, "/attendance")
            assert await replies(vk, ANNA, 1) == [
                "Your absences: 1 (physics 1)\n2026-09-02: physics"
            ]
