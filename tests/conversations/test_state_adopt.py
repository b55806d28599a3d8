"""`ConversationStates.adopt`: a cluster's worker reads a bot's states again when it takes
conversations over from another worker (issue 17), on SQLite and PostgreSQL.

Two `ConversationStates` on one storage stand for two workers' memories.
"""

from __future__ import annotations

import anyio
import pytest

from botrt.handle._internal import ConversationStates
from botrt.storage import Storage
from botrt.storage._conversations import StoredState
from botrt.storage._internal import StateRows

pytestmark = pytest.mark.anyio

SET, CLEARED, OTHER_BOT, RACED = ("b", 1, 1), ("b", 2, 2), ("c", 3, 3), ("b", 4, 4)


class PausedRows(StateRows):
    """`StateRows` whose `load_bot` waits, after reading, until the test lets it return."""

    def __init__(self, storage: Storage) -> None:
        super().__init__(storage)
        self.read = anyio.Event()
        self.go_on = anyio.Event()

    async def load_bot(self, bot: str, now: float) -> list[StoredState]:
        rows = await super().load_bot(bot, now)
        self.read.set()
        await self.go_on.wait()
        return rows


def states_on(rows: StateRows) -> ConversationStates:
    return ConversationStates(
        rows,
        clock=lambda: 1_000.0,
        ttl=lambda: 60.0,
        cancel=lambda: ("/cancel",),
        cancelled=lambda: "cancelled",
    )


async def test_adopt_learns_what_another_worker_set_and_cleared(storage: Storage) -> None:
    mine, theirs = states_on(StateRows(storage)), states_on(StateRows(storage))
    await theirs.put(CLEARED, "form", "name", "{}")
    await mine.load()
    await mine.put(OTHER_BOT, "form", "age", "{}")
    await theirs.drop(CLEARED, ["form"])
    await theirs.put(SET, "form", "age", '{"name":"Ann"}')
    assert not mine.has(SET)
    assert mine.has(CLEARED)  # stale: the other worker cleared it
    await mine.adopt("b")
    assert mine.has(SET)
    assert mine.conversation(SET, "form").data == {"name": "Ann"}
    assert not mine.has(CLEARED)
    assert mine.has(OTHER_BOT)  # another bot's states are left alone


async def test_a_change_made_while_adopt_reads_is_kept(storage: Storage) -> None:
    rows = PausedRows(storage)
    mine = states_on(rows)
    await mine.load()
    async with anyio.create_task_group() as tg:
        tg.start_soon(mine.adopt, "b")
        await rows.read.wait()  # adopt read the rows: RACED had none then
        await mine.put(RACED, "form", "name", "{}")
        rows.go_on.set()
    assert mine.has(RACED)
    assert mine.conversation(RACED, "form").state == "name"
