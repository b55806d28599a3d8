"""The stored member list on both storage backends: sync, lookups, ambiguity."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from botrt.adapter import MemberInfo
from botrt.plugin import MemberLookupError, Members
from botrt.storage import Storage

pytestmark = pytest.mark.anyio


@pytest.fixture
async def members(storage_url: str) -> AsyncIterator[Members]:
    storage = await Storage.open(storage_url)
    roster = Members(storage.for_plugin("botrt"), lambda: (42,))
    await roster.setup()
    await roster.sync(
        "g1",
        [
            MemberInfo(1, "Anna", "Ivanova"),
            MemberInfo(2, "Boris", "Petrov", "administrator"),
            MemberInfo(3, "Anna", "Sidorova"),
            MemberInfo(4, "Pavel", "Ivanov"),
        ],
    )
    try:
        yield roster
    finally:
        await storage.close()


async def test_sync_replaces_the_list_and_keeps_who_left(members: Members) -> None:
    assert [m.user_id for m in await members.all("g1")] == [4, 1, 2, 3]
    await members.sync("g1", [MemberInfo(1, "Anna", "Ivanova"), MemberInfo(5, "Eve", "")])
    assert [m.user_id for m in await members.all("g1")] == [5, 1]
    left = await members.get(2, "g1")
    assert left is not None
    assert not left.is_member
    assert left.manager_role is None
    assert len(await members.all("g1", include_left=True)) == 5


async def test_admins_are_managers_and_configured_ids(members: Members) -> None:
    assert await members.admin_ids("g1") == {2, 42}
    assert await members.is_manager("g1", 2)
    assert not await members.is_manager("g1", 1)


@pytest.mark.parametrize(
    ("query", "user_id"),
    [("[id4|Pavel]", 4), ("4", 4), ("id3", 3), ("Pavel Ivanov", 4), ("petrov", 2),
     ("ivanova anna", 1), ("Boris", 2)],
)  # fmt: skip
async def test_resolve_by_mention_id_or_name(members: Members, query: str, user_id: int) -> None:
    assert (await members.resolve(query, "g1")).user_id == user_id


async def test_an_ambiguous_name_lists_the_candidates(members: Members) -> None:
    with pytest.raises(MemberLookupError) as info:
        await members.resolve("Anna", "g1")
    assert [m.user_id for m in info.value.candidates] == [1, 3]
    assert "Anna Ivanova (id1)" in str(info.value)
    assert "Anna Sidorova (id3)" in str(info.value)


async def test_unknown_people_are_an_error(members: Members) -> None:
    for query in ("Nobody", "999", "[id999|Ghost]"):
        with pytest.raises(MemberLookupError, match="nobody called"):
            await members.resolve(query, "g1")


async def test_join_and_leave(members: Members) -> None:
    await members.joined("g1", 7, "Vera", "New")
    await members.left("g1", 1)
    ids = [m.user_id for m in await members.all("g1")]
    assert 7 in ids
    assert 1 not in ids
