"""A deposed Long Poll leader's conversation-state writes are fenced (docs/cluster.md): two
real cluster workers on one PostgreSQL, one bot on Bots Long Poll.

Worker A leads the bot, handles a user's ``/wait`` and stalls in the handler (a gate the
test holds) with its clock stopped: its lease, renewed on that clock, never reaches past
its first expiry. By worker B's clock the lease runs out; B takes the lead at a higher
epoch, handles the same update again (A recorded it and never marked it) and sets the
state. When A's handler goes on, its writes (a `set`, then a `clear`) must be refused,
since A no longer holds the lead at the epoch it began handling the update at, and B's
state must be the one stored. A's handler is not cut short (it still replies, with the
same `random_id` as B's reply, so the user sees it once), and the refusals are logged
with their reason.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import TaskGroup
from test_cluster_state_fence import PLUGIN, stored
from test_cluster_state_fence import gate as gate  # the handler's gate, a fixture used by name
from twohosts import LIMIT, Gate, Served, host_config, until

from botrt.protocols.vk._adapters import VkLongPollAdapter
from botrt.protocols.vk._leader import Leadership
from botrt.testing import ManualClock
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio

GROUP, USER = 45, 9


@pytest.fixture
async def vk() -> AsyncIterator[FakeVK]:
    async with FakeVK(longpoll_wait_cap=0.3) as fake:
        fake.add_group(GROUP, token="token-l", members=[USER])
        yield fake


def longpoll_bot(vk: FakeVK) -> dict[str, Any]:
    """A ``[[bots]]`` table: bot ``b`` on Bots Long Poll."""
    return {"name": "b", "platform": "vk", "api_url": vk.api_url, "token": "token-l"} | {
        "group_id": GROUP
    }


def longpoll(worker: Served) -> VkLongPollAdapter:
    (adapter,) = [a for a in worker.host.adapters if isinstance(a, VkLongPollAdapter)]
    return adapter


def leadership(worker: Served) -> Leadership:
    adapter = longpoll(worker)
    assert adapter.leadership is not None
    return adapter.leadership


START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def workers(vk: FakeVK, tmp_path: Path, postgres_url: str) -> tuple[Served, Served, ManualClock]:
    """Workers A and B of bot ``b``, each on a clock of its own (A's stays stopped: A
    stalls), and B's clock."""
    clock_b = ManualClock(START)
    a, b = (
        Served(
            host_config(tmp_path, postgres_url, plugin=PLUGIN, bot=longpoll_bot(vk), worker=w),
            clock,
        )
        for w, clock in (("A", ManualClock(START)), ("B", clock_b))
    )
    return a, b, clock_b


async def lead_then_stand_by(
    tg: TaskGroup, vk: FakeVK, a: Served, b: Served, caplog: pytest.LogCaptureFixture
) -> tuple[Leadership, Leadership]:
    """Start A until it leads and polls, then B until it stands by; their leaderships."""
    caplog.set_level(logging.INFO)
    await a.start(tg)
    lead_a = leadership(a)
    await until(lambda: lead_a.leads() and vk.longpoll_requests > 0)
    await b.start(tg)
    await until(lambda: "worker B stands by for vk-longpoll:b, led by A" in caplog.text)
    return lead_a, leadership(b)


async def test_a_deposed_leader_cannot_overwrite_the_new_leaders_state(
    vk: FakeVK, gate: Gate, tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    a, b, clock_b = workers(vk, tmp_path, postgres_url)
    async with anyio.create_task_group() as tg:
        lead_a, lead_b = await lead_then_stand_by(tg, vk, a, b, caplog)
        epoch_a = lead_a.tenure.epoch if lead_a.tenure is not None else 0
        vk.push_message(GROUP, USER, "/wait")
        with anyio.fail_after(LIMIT):
            await gate.first.wait()  # A handles it and stalls, its Conversation in hand

        # By B's clock, A's lease runs out: B's next look takes the lead.
        clock_b.advance(START + dt.timedelta(seconds=lead_b.ttl + 1))
        await until(lead_b.leads)
        assert lead_b.tenure is not None
        assert lead_b.tenure.epoch > epoch_a
        with anyio.fail_after(LIMIT):
            await gate.finished[2].wait()  # B handled the update again and set its state
        assert await stored(postgres_url) == [("wait", {"n": 2})]

        gate.open.set()  # A goes on: a late set, then a late clear
        with anyio.fail_after(LIMIT):
            await gate.finished[1].wait()
        assert await stored(postgres_url) == [("wait", {"n": 2})]
        refused = [r.getMessage() for r in caplog.records if "not stored" in r.getMessage()]
        assert len(refused) == 2, refused
        assert all(
            f"worker A no longer holds vk-longpoll:b at epoch {epoch_a}" in m
            and "another worker" in m
            for m in refused
        ), refused

        # The user saw one reply (A's has B's random_id), and B still holds the state.
        assert [m.text for m in vk.sent_to(USER)] == ["waiting"]
        vk.push_message(GROUP, USER, "hello")
        await until(lambda: len(vk.sent_to(USER)) == 2)
        assert vk.sent_to(USER)[1].text == "still waiting 2"
        await a.stop()
        await b.stop()


async def test_a_deposed_leaders_mark_cannot_make_the_new_leader_skip_the_update(
    vk: FakeVK,
    gate: Gate,
    tmp_path: Path,
    postgres_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # As above, but the new leader B replays the inbox only after the deposed leader A has
    # finished and marked the update: that mark must be refused (A no longer leads at the
    # epoch it handled the update under), or B would skip the update and the state A could
    # not store would be lost.
    a, b, clock_b = workers(vk, tmp_path, postgres_url)
    async with anyio.create_task_group() as tg:
        _, lead_b = await lead_then_stand_by(tg, vk, a, b, caplog)
        inbox_a = longpoll(a)._platform.inbox
        inbox_b = longpoll(b)._platform.inbox
        assert inbox_a is not None
        assert inbox_b is not None
        reads = anyio.Event()  # B's replay waits for it
        unhandled = inbox_b.unhandled

        async def held(bot: str) -> list[dict[str, Any]]:
            await reads.wait()
            return await unhandled(bot)

        inbox_b.unhandled = held  # type: ignore[method-assign]
        vk.push_message(GROUP, USER, "/wait")
        with anyio.fail_after(LIMIT):
            await gate.first.wait()  # A handles it and stalls

        clock_b.advance(START + dt.timedelta(seconds=lead_b.ttl + 1))
        await until(lead_b.leads)  # B leads; its replay waits
        gate.open.set()  # A goes on: its writes, its reply, its mark
        with anyio.fail_after(LIMIT):
            await gate.finished[1].wait()
        await until(lambda: inbox_a.inbox.pending_marks == 0 and inbox_a.inbox._writer is None)
        refused = [r.getMessage() for r in caplog.records if "not marked handled" in r.getMessage()]
        assert len(refused) == 1, refused
        assert "worker A no longer holds vk-longpoll:b" in refused[0], refused

        reads.set()  # B replays: the update is still unhandled, B handles it
        with anyio.fail_after(LIMIT):
            await gate.finished[2].wait()
        await until(lambda: inbox_b.inbox.pending_marks == 0 and inbox_b.inbox._writer is None)
        assert await stored(postgres_url) == [("wait", {"n": 2})]
        assert [m.text for m in vk.sent_to(USER)] == ["waiting"]  # one reply: one random_id
        await a.stop()
        await b.stop()
