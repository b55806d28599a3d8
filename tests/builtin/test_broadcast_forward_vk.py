"""Broadcast of forwarded messages end to end: a real host, FakeVK's long poll and API.

The head of the group forwards messages from the busy group chat to the bot
with ``/mb`` (or replies to a message with it), and every member gets them
(the seed's ``get_forwards``): in the batched ``peer_ids`` path, through
``execute``, with VK's ``forward`` parameter, which FakeVK checks as VK does.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import anyio
import pytest
from test_broadcast_vk import ADMIN, GROUP, community, config_for, serving

from botrt.testing._fakevk import FakeVK

pytestmark = pytest.mark.anyio

CHAT = 2_000_000_001
MEMBERS = range(2000, 2003)


def forwarded(count: int) -> list[dict[str, Any]]:
    """`count` messages of the group chat as VK puts them in `fwd_messages`."""
    return [
        {
            "date": 1612685000 + i,
            "from_id": 500 + i,
            "text": f"message {i} of the chat",
            "attachments": [],
            "conversation_message_id": 1500 + i,
            "peer_id": CHAT,
        }
        for i in range(count)
    ]


async def report(vk: FakeVK, first_line: str) -> list[str]:
    def found() -> list[str]:
        return [m.text for m in vk.sent_to(ADMIN) if m.text.startswith(first_line)]

    with anyio.fail_after(30):
        await vk.wait_for(lambda: bool(found()))
    (text,) = found()
    return text.splitlines()


def with_ru(config: Any) -> Any:
    return dataclasses.replace(config, bot=dataclasses.replace(config.bot, language="ru"))


async def test_forwarded_messages_reach_every_member_with_the_text(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        people = community(vk, MEMBERS)
        async with serving(config_for(vk, tmp_path), vk):
            update = vk.push_message(GROUP, ADMIN, "/mb Read this", fwd_messages=forwarded(2))
            lines = await report(vk, "Broadcast #1 finished")
        command = update["object"]["message"]["conversation_message_id"]
        got = {m.peer_id: m for m in vk.sent if m.text == "Read this"}
        assert sorted(got) == sorted(people)
        forward = {"peer_id": ADMIN, "conversation_message_ids": [command]}
        assert {m.peer_id: m.forward for m in got.values()} == dict.fromkeys(people, forward)
        assert all("peer_ids" in m.params for m in got.values())  # the batched path
        assert vk.calls["execute"] == 1
        assert lines == [
            "Broadcast #1 finished: all members.",
            'Text: "Read this"',
            "Forwarded with it: 2 messages",
            f"Planned: {len(people)}",
            f"Sent: {len(people)}",
            "Failed: 0",
        ]


async def test_a_reply_sends_the_message_it_answers(tmp_path: Path) -> None:
    async with FakeVK() as vk:
        people = community(vk, MEMBERS)
        async with serving(config_for(vk, tmp_path), vk):
            first = vk.push_message(GROUP, ADMIN, "Exam moved to Friday")["object"]["message"]
            answered = {k: first[k] for k in ("date", "from_id", "text", "conversation_message_id")}
            vk.push_message(GROUP, ADMIN, "/mb", reply_message={**answered, "id": first["id"]})
            lines = await report(vk, "Broadcast #1 finished")
        forward = {"peer_id": ADMIN, "conversation_message_ids": [first["conversation_message_id"]]}
        got = [m for m in vk.sent if m.forward == forward]
        assert sorted(m.peer_id for m in got) == sorted(people)
        assert {m.text for m in got} == {""}  # nothing but the answered message
        assert lines[1:3] == ["Text: (forwarded messages only)", "Forwarded with it: 1 message"]


@pytest.mark.parametrize(
    ("count", "line"),
    [
        (1, "Переслано с ней: 1 сообщение"),
        (3, "Переслано с ней: 3 сообщения"),
        (5, "Переслано с ней: 5 сообщений"),
    ],
)
async def test_the_russian_report_counts_them_with_plural_forms(
    tmp_path: Path, count: int, line: str
) -> None:
    async with FakeVK() as vk:
        community(vk, MEMBERS)
        async with serving(with_ru(config_for(vk, tmp_path)), vk):
            vk.push_message(GROUP, ADMIN, "/рассылка Читайте", fwd_messages=forwarded(count))
            lines = await report(vk, "Рассылка №1 завершена")
        assert lines[1:3] == ['Текст: "Читайте"', line]
        assert len([m for m in vk.sent if m.forward is not None]) == len(MEMBERS) + 1
