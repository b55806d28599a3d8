"""A stale owner's "handled" mark is fenced (docs/cluster.md): two real cluster workers on
one PostgreSQL, Callback API.

Worker A handles a user's ``/go`` and stalls in the handler (a gate the test holds) with
its clock stopped: it renews nothing. By worker B's clock A's leases run out and B takes
every partition at a higher epoch, but B's reads of the inbox are held back. A's handler
then goes on: its state write is refused (the state fence), it replies, and it marks the
update handled. That mark must be refused too (A no longer holds the partition at the
epoch it handled the update under), or B, reading the inbox afterwards, would find the
update handled and never handle it: the state A could not store would be lost. So B
handles the update again, its state is the one stored, the user sees the reply once (the
same `random_id`), and the update ends marked handled once, by B.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import anyio
import pytest
from sqlalchemy import select
from twohosts import LIMIT, Gate, Served, callback_bot, host_config, installed_gate, until
from twohosts import post as post_to

import botrt.protocols.vk._routing as routing
from botrt.storage import Storage
from botrt.storage._internal import PARTITIONS
from botrt.testing import ManualClock
from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio

GROUP, USER = 45, 11
GATE = "botrt_test_mark_fence_gate"

# The first arrival (A) waits at the gate until the test opens it, then stores its state.
PLUGIN = f"""
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import Conversation, on_command

import {GATE} as gate

PLUGIN = PluginPlanner(version="1.0.0")


@PLUGIN.use
@on_command("go")
async def go(event: TextEvent, conv: Conversation) -> None:
    n = await gate.arrive()
    await conv.set("went", n=n)
    await event.reply("gone")
    gate.done(n)
"""


@pytest.fixture
def gate() -> Iterator[Gate]:
    with installed_gate(GATE) as made:
        yield made


@pytest.fixture
async def vk() -> AsyncIterator[FakeVK]:
    async with FakeVK() as fake:
        fake.add_group(GROUP, token="token-g", members=[USER])
        yield fake


async def read(url: str) -> tuple[list[tuple[str, dict[str, object]]], list[float | None]]:
    """The user's stored conversation states, and the inbox rows' handled times."""
    storage = await Storage.open(url)
    try:
        states, inbox = storage.core.conversation, storage.core.inbox
        async with storage.transaction(write=False) as conn:
            rows = (
                await conn.execute(select(states.c.state, states.c.data).where(states.c.bot == "b"))
            ).all()
            marks = (await conn.execute(select(inbox.c.handled_at).where(inbox.c.bot == "b"))).all()
    finally:
        await storage.close()
    return [(str(s), json.loads(d)) for s, d in rows], [m[0] for m in marks]


async def test_a_stale_owners_mark_is_refused_and_the_new_owner_handles_the_update(
    vk: FakeVK,
    gate: Gate,
    tmp_path: Path,
    postgres_url: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    clock_a, clock_b = ManualClock(start), ManualClock(start)  # A's stays stopped: A stalls
    bot = callback_bot(vk, "b", GROUP, "token-g")
    a = Served(host_config(tmp_path, postgres_url, plugin=PLUGIN, bot=bot, worker="A"), clock_a)
    bot = callback_bot(vk, "b", GROUP, "token-g")
    b = Served(host_config(tmp_path, postgres_url, plugin=PLUGIN, bot=bot, worker="B"), clock_b)
    caplog.set_level(logging.WARNING)

    # B's reads of the inbox wait while `held` is set, until `reads` is set: B reads only
    # once A's mark has been dealt with.
    held, reads = anyio.Event(), anyio.Event()
    real_pending = routing.pending_rows

    async def pending_rows(
        storage: Storage, bot: str, parts: Sequence[int]
    ) -> list[tuple[int, str, str, int]]:
        if held.is_set() and storage is b.host.storage:
            await reads.wait()
        return await real_pending(storage, bot, parts)

    monkeypatch.setattr(routing, "pending_rows", pending_rows)

    async with anyio.create_task_group() as tg:
        await a.start(tg)
        owned_a = a.router().assignments["b"]
        await until(lambda: len(owned_a.owned) == PARTITIONS)  # A's first round
        epochs_a = dict(owned_a.owned)
        await b.start(tg)
        inbox_a = a.inbox()
        marked = anyio.Event()
        mark = inbox_a.done

        def done(*args: object, **kwargs: object) -> None:
            mark(*args, **kwargs)  # type: ignore[arg-type]
            marked.set()

        inbox_a.done = done  # type: ignore[method-assign]
        await post_to(vk, a, GROUP, USER, "/go")
        with anyio.fail_after(LIMIT):
            await gate.first.wait()  # A handles it and stalls

        # By B's clock, A's leases run out: B's next round takes every partition. The
        # clock moves once B's first round is over and B sleeps until its next one.
        owned_b = b.router().assignments["b"]
        due = start + dt.timedelta(seconds=owned_b.every)
        await until(lambda: owned_b.live == 2 and [m for m, _ in clock_b.sleepers].count(due) == 2)
        held.set()
        clock_b.advance(start + dt.timedelta(seconds=owned_b.ttl + owned_b.every))
        await until(lambda: len(owned_b.mine()) == PARTITIONS)
        assert all(owned_b.owned[p] > epochs_a[p] for p in owned_b.owned)

        gate.open.set()  # A goes on: its state write, its reply, its mark
        with anyio.fail_after(LIMIT):
            await marked.wait()
        await until(lambda: inbox_a.pending_marks == 0 and inbox_a._writer is None)
        states, handled = await read(postgres_url)
        assert states == []  # A's state write was refused
        assert handled == [None]  # and so was its mark: the update is B's to handle
        refused = [r.getMessage() for r in caplog.records if "not marked handled" in r.getMessage()]
        assert len(refused) == 1, refused
        assert "worker A" in refused[0], refused
        (epoch_a,) = set(epochs_a.values())  # every partition taken in one round
        assert f"at epoch {epoch_a}" in refused[0], refused

        reads.set()  # B reads the inbox: the update is unhandled, B handles it
        with anyio.fail_after(LIMIT):
            await gate.finished[2].wait()
        inbox_b = b.inbox()
        await until(lambda: inbox_b.pending_marks == 0 and inbox_b._writer is None)
        states, handled = await read(postgres_url)
        assert states == [("went", {"n": 2})]
        assert handled == [clock_b.now().timestamp()]  # marked by B, by B's clock

        # The user saw one reply: B's has the random_id of A's.
        assert [m.text for m in vk.sent_to(USER)] == ["gone"]
        assert len([r for r in caplog.records if "not marked handled" in r.getMessage()]) == 1
        await a.stop()
        await b.stop()
