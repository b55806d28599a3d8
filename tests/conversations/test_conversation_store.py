"""The durable side of conversation states, on SQLite and PostgreSQL, and its in-memory index."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from botrt.handle import ConversationDataError
from botrt.handle._internal import ConversationStates
from botrt.storage import Storage
from botrt.storage._internal import StateRows

pytestmark = pytest.mark.anyio

KEY = ("memory", 2000000001, 7)


class Time:
    """The host's time in seconds, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def states_on(storage: Storage, time: Time, ttl: float = 60.0) -> ConversationStates:
    return ConversationStates(
        StateRows(storage),
        clock=time,
        ttl=lambda: ttl,
        cancel=lambda: ("/cancel", "Стоп"),
        cancelled=lambda: "cancelled",
    )


async def count_rows(storage: Storage) -> int:
    table = storage.core.conversation
    async with storage.transaction(write=False) as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)))


async def test_rows_round_trip_per_plugin(storage: Storage) -> None:
    rows = StateRows(storage)
    await rows.put(KEY, "quiz", "question", '{"n":1}', 100.0)
    await rows.put(KEY, "form", "name", "{}", 200.0)
    await rows.put(KEY, "quiz", "answer", '{"n":2}', 150.0)  # replaces quiz's row
    loaded = sorted(await rows.load(0.0))
    assert loaded == [
        (KEY, "form", "name", "{}", 200.0),
        (KEY, "quiz", "answer", '{"n":2}', 150.0),
    ]
    await rows.touch(KEY, ["quiz"], 500.0)
    await rows.delete(KEY, ["form"])
    assert await rows.load(0.0) == [(KEY, "quiz", "answer", '{"n":2}', 500.0)]


async def test_load_deletes_what_has_expired(storage: Storage) -> None:
    rows = StateRows(storage)
    await rows.put(KEY, "quiz", "question", "{}", 100.0)
    await rows.put(("memory", 5, 5), "quiz", "question", "{}", 300.0)
    assert [r[0] for r in await rows.load(200.0)] == [("memory", 5, 5)]
    assert await count_rows(storage) == 1
    assert await rows.prune(300.0) == 1
    assert await count_rows(storage) == 0


async def test_states_write_through_and_come_back_after_a_new_load(storage: Storage) -> None:
    time = Time()
    states = states_on(storage, time)
    await states.load()
    assert not states.has(KEY)
    conv = states.conversation(KEY, "quiz")
    assert (conv.state, conv.data) == (None, {})
    await conv.set("question", n=1, asked=["a", "б"])
    await conv.set("answer", n=2)
    assert conv.state == "answer"
    assert conv.data == {"n": 2, "asked": ["a", "б"]}
    assert states.has(KEY)

    again = states_on(storage, time)  # a restart: what storage holds, nothing else
    await again.load()
    conv = again.conversation(KEY, "quiz")
    assert (conv.state, conv.data) == ("answer", {"n": 2, "asked": ["a", "б"]})
    assert again.conversation(KEY, "form").state is None
    await conv.clear()
    assert not again.has(KEY)
    assert await count_rows(storage) == 0


async def test_a_state_expires_after_the_ttl_and_a_message_starts_it_over(
    storage: Storage,
) -> None:
    time = Time()
    states = states_on(storage, time, ttl=60)
    await states.load()
    await states.conversation(KEY, "quiz").set("question")
    time.now += 50
    assert set(await states.live(KEY)) == {"quiz"}
    await states.touch(KEY, ["quiz"])
    time.now += 50  # 100 s after `set`, 50 after the message
    assert states.conversation(KEY, "quiz").state == "question"
    time.now += 11
    assert states.conversation(KEY, "quiz").state is None
    assert await states.live(KEY) == {}
    assert not states.has(KEY)
    assert await count_rows(storage) == 0


async def test_expired_states_of_users_who_never_return_are_swept(storage: Storage) -> None:
    time = Time()
    states = states_on(storage, time, ttl=60)
    await states.load()
    await states.conversation(KEY, "quiz").set("question")
    time.now += 61
    other = ("memory", 9, 9)
    await states.conversation(other, "quiz").set("question")  # a write sweeps
    assert not states.has(KEY)
    assert states.has(other)
    assert await count_rows(storage) == 1


async def test_data_that_is_not_json_is_refused_naming_the_key(storage: Storage) -> None:
    time = Time()
    states = states_on(storage, time)
    await states.load()
    conv = states.conversation(KEY, "quiz")
    with pytest.raises(ConversationDataError, match=r"when=.*not JSON serializable"):
        await conv.set("question", n=1, when={1, 2})
    with pytest.raises(ConversationDataError, match="ratio=nan"):
        await conv.set("question", ratio=float("nan"))
    conv.data["kept"] = object()  # changed in place, then stored by a later `set`
    with pytest.raises(ConversationDataError, match="kept="):
        await conv.set("question")
    with pytest.raises(ConversationDataError, match="non-empty string"):
        await conv.set("")
    assert await count_rows(storage) == 0
    assert not states.has(KEY)


def test_cancel_words_are_the_whole_text_casefolded() -> None:
    states = ConversationStates(
        StateRows.__new__(StateRows),
        clock=Time(),
        ttl=lambda: 60.0,
        cancel=lambda: ("/cancel", "Стоп"),
        cancelled=lambda: "",
    )
    assert states.is_cancel("  /CANCEL ")
    assert states.is_cancel("стоп")
    assert not states.is_cancel("/cancel now")
    assert not states.is_cancel("cancel")
