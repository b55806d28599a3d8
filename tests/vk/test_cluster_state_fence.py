"""A stale owner's conversation-state writes are fenced (docs/cluster.md): two real cluster
workers on one PostgreSQL, Callback API.

Worker A handles a user's ``/wait`` and stalls in the handler (a gate the test holds)
with its clock stopped: it renews nothing. By worker B's clock A's leases run out; B
takes every partition at a higher epoch, handles the same update again (A never marked
it) and sets the state. When A's handler goes on, its writes (a `set`, then a `clear`)
must be refused, since A no longer holds the partition at the epoch it handled the
update under, and B's state must be the one stored. A's handler is not cut short: it
still replies (the same `random_id` as B's reply, so the user sees it once), and the
refusal is logged with its reason.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
from sqlalchemy import select
from twohosts import LIMIT, Gate, Served, callback_bot, host_config, installed_gate, until
from twohosts import post as post_to

from botrt.storage import Storage
from botrt.storage._internal import PARTITIONS
from botrt.testing import ManualClock
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio

GROUP, USER = 44, 9
GATE = "botrt_test_state_fence_gate"

# The handler sets a state, then counts who arrives: the first (A) waits at the gate
# until the test opens it, then sets and clears the state late.
PLUGIN = f"""
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import Conversation, on_command, on_state

import {GATE} as gate

PLUGIN = PluginPlanner(version="1.0.0")


@PLUGIN.use
@on_command("wait")
async def wait(event: TextEvent, conv: Conversation) -> None:
    await conv.set("start", n=0)  # no flow: the worker handling it again clears it
    n = await gate.arrive()
    await conv.set("wait", n=n)
    if n == 1:
        await conv.clear()
    await event.reply("waiting")
    gate.done(n)


@PLUGIN.use
@on_state("wait")
async def still(event: TextEvent, conv: Conversation) -> None:
    await event.reply("still waiting " + str(conv.data["n"]))
"""


@pytest.fixture
def gate() -> Iterator[Gate]:
    with installed_gate(GATE) as made:
        yield made


@pytest.fixture
async def vk() -> AsyncIterator[FakeVK]:
    async with FakeVK() as fake:
        fake.add_group(GROUP, token="token-f", members=[USER])
        yield fake


async def stored(url: str) -> list[tuple[str, dict[str, object]]]:
    """The conversation states stored for the user, as a new worker would read them."""
    storage = await Storage.open(url)
    try:
        t = storage.core.conversation
        async with storage.transaction(write=False) as conn:
            rows = (await conn.execute(select(t.c.state, t.c.data).where(t.c.bot == "b"))).all()
    finally:
        await storage.close()
    return [(str(state), json.loads(data)) for state, data in rows]


async def test_a_stale_owner_cannot_overwrite_the_new_owners_state(
    vk: FakeVK, gate: Gate, tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    clock_a, clock_b = ManualClock(start), ManualClock(start)  # A's stays stopped: A stalls
    bot = callback_bot(vk, "b", GROUP, "token-f")
    a = Served(host_config(tmp_path, postgres_url, plugin=PLUGIN, bot=bot, worker="A"), clock_a)
    bot = callback_bot(vk, "b", GROUP, "token-f")
    b = Served(host_config(tmp_path, postgres_url, plugin=PLUGIN, bot=bot, worker="B"), clock_b)
    caplog.set_level(logging.WARNING, logger="botrt.conversations")
    async with anyio.create_task_group() as tg:
        await a.start(tg)
        owned_a = a.router().assignments["b"]
        await until(lambda: len(owned_a.owned) == PARTITIONS)  # A's first round
        epochs_a = dict(owned_a.owned)
        await b.start(tg)
        await post_to(vk, a, GROUP, USER, "/wait")
        with anyio.fail_after(LIMIT):
            await gate.first.wait()  # A handles it and stalls, its Conversation in hand

        # By B's clock, A's leases run out: B's next round takes every partition. The
        # clock moves once B's first round is over and B sleeps until its next one.
        owned_b = b.router().assignments["b"]
        due = start + dt.timedelta(seconds=owned_b.every)  # B's next round and next read
        await until(lambda: owned_b.live == 2 and [m for m, _ in clock_b.sleepers].count(due) == 2)
        clock_b.advance(start + dt.timedelta(seconds=owned_b.ttl + owned_b.every))
        await until(lambda: len(owned_b.mine()) == PARTITIONS)
        assert all(owned_b.owned[p] > epochs_a[p] for p in owned_b.owned)
        with anyio.fail_after(LIMIT):
            await gate.finished[2].wait()  # B handled the update again and set its state
        assert await stored(postgres_url) == [("wait", {"n": 2})]

        gate.open.set()  # A goes on: a late set, then a late clear
        with anyio.fail_after(LIMIT):
            await gate.finished[1].wait()
        assert await stored(postgres_url) == [("wait", {"n": 2})]
        refused = [r.getMessage() for r in caplog.records if "not stored" in r.getMessage()]
        assert len(refused) == 2, refused
        assert all("worker A" in m and "another worker" in m for m in refused), refused

        # The user saw one reply (A's has B's random_id), and B still holds the state.
        assert [m.text for m in vk.sent_to(USER)] == ["waiting"]
        await post_to(vk, b, GROUP, USER, "hello")
        await until(lambda: len(vk.sent_to(USER)) == 2)
        assert vk.sent_to(USER)[1].text == "still waiting 2"
        await a.stop()
        await b.stop()
