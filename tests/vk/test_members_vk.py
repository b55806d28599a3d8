"""Members, roles and sending through VK: sync with paging, join/leave, managers, send_many."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from test_host_vk import bots_config, polling, serving

from botrt.host import Host
from botrt.testing import MemoryEvent
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio

ONE_BOT = [{"name": "g10", "token": "token-a", "group_id": 10}]


async def test_members_are_synced_with_paging_and_managers_are_admins(tmp_path: Path) -> None:
    async with FakeVK(rate_limit=100) as vk:
        members = list(range(1000, 3500))
        vk.add_group(10, token="token-a", members=members, managers={1000: "administrator"})
        vk.add_user(1000, "Head", "Ofgroup")
        # Started but not serving: no periodic sync runs beside the one under test.
        async with Host(bots_config(vk, tmp_path, ONE_BOT)) as host:
            await host.sync_members()
            assert host.members is not None
            stored = await host.members.all("g10")
            assert len(stored) == 2500
            assert vk.calls["groups.getMembers"] == 4  # 3 pages of members + managers
            head = await host.members.get(1000, "g10")
            assert head is not None
            assert head.name == "Head Ofgroup"
            assert head.manager_role == "administrator"
            assert await host.members.admin_ids("g10") == {1000}


async def test_join_and_leave_events_update_the_list(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        vk.add_group(10, token="token-a", members=[5])
        vk.add_user(9, "New", "Comer")
        async with serving(bots_config(vk, tmp_path, ONE_BOT)) as host:
            assert host.members is not None
            await polling(vk)
            vk.push_event(10, "group_join", {"user_id": 9, "join_type": "join"})
            with anyio.fail_after(10):
                while (m := await host.members.get(9, "g10")) is None or not m.is_member:
                    await anyio.lowlevel.checkpoint()
            assert m.name == "New Comer"
            vk.push_event(10, "group_leave", {"user_id": 9, "self": 1})
            with anyio.fail_after(10):
                while (m := await host.members.get(9, "g10")) is not None and m.is_member:
                    await anyio.lowlevel.checkpoint()
            assert [x.user_id for x in await host.members.all("g10")] == [5]


async def test_send_many_batches_and_reports_unreachable_recipients(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        peers = list(range(100, 350))
        vk.add_group(10, token="token-a", members=peers)
        vk.block(101, code=901)
        vk.block(102, code=902)
        async with serving(bots_config(vk, tmp_path, ONE_BOT)) as host:
            outcomes = await host.messenger.send_many("g10", peers, "hello all", key="job-1")
            assert [o.peer_id for o in outcomes] == peers
            failed = {o.peer_id: o.error_code for o in outcomes if not o.ok}
            assert failed == {101: 901, 102: 902}
            assert all(o.unreachable for o in outcomes if not o.ok)
            assert vk.calls["execute"] == 1  # 3 sends of 100 peer_ids in one request
            assert len(vk.sent) == 248
            # The same job again (a resume after a crash): VK absorbs the repeats.
            await host.messenger.send_many("g10", peers, "hello all", key="job-1")
            assert len(vk.sent) == 248


async def test_console_members_only_see_what_is_stored(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        vk.add_group(10, token="token-a", members=[5], managers={5: "creator"})
        async with serving(bots_config(vk, tmp_path, ONE_BOT)) as host:
            await host.sync_members()
            assert await host.roles.is_admin(MemoryEvent("x", user_id=5, role="member")) is False
            from botrt.protocols.vk import parse_update

            event = parse_update(vk.build_message(10, 5, "/x"), bot="g10")
            assert await host.roles.is_admin(event) is True
            other = parse_update(vk.build_message(10, 6, "/x"), bot="g10")
            assert await host.roles.is_admin(other) is False


async def test_a_long_text_carries_its_attachment_once(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        vk.add_group(10, token="token-a", members=[5, 6])
        async with Host(bots_config(vk, tmp_path, ONE_BOT)) as host:
            text = "word " * 1500  # two parts at 4,096 characters
            await host.messenger.send_many("g10", [5, 6], text, key="k", attachment="photo1_2")
            await host.messenger.send("g10", 5, text, attachment="photo1_3")
    assert [m.attachment for m in vk.sent_to(6)] == [None, "photo1_2"]
    assert [m.attachment for m in vk.sent_to(5)] == [None, "photo1_2", None, "photo1_3"]


async def test_only_a_host_with_vk_bots_tracks_members_on_every_event(tmp_path: Path) -> None:
    from botrt.config import parse_config
    from botrt.protocols.vk._hooks import MemberTracker

    console = Host(parse_config({"console": {"enabled": False}}, base_dir=tmp_path))
    async with console:
        assert console.pm.get_plugin(MemberTracker.name) is None
        assert not console.pm.hook.botrt_event_received.get_hookimpls()
    async with FakeVK() as vk:
        vk.add_group(10, token="token-a", members=[1000])
        async with Host(bots_config(vk, tmp_path, ONE_BOT)) as host:
            assert isinstance(host.pm.get_plugin(MemberTracker.name), MemberTracker)
