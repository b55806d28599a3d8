"""docs/student-group-ru.md's ``VK`` conversations, replayed on VK: a real host, FakeVK.

The ``Chat`` blocks of the page run on the in-memory platform
(tests/docs); what only VK shows (forwarded messages, "typing...") is in
```` ```text title="VK" ```` blocks, read here in the same format, plus:

- ``Имя: text   ↩ пересланы N сообщения из общего чата``: the message forwards
  N messages of the group chat; ``↩ ответ на «TEXT»`` answers that person's
  earlier message TEXT;
- ``Бот → всем: text   ↩ …``: every recipient's copy forwards something;
- ``Бот печатает…``: the command is slow (its document upload is held) and
  its chat shows "typing" before the answer, once;
- ``Бот: text   📎 NAME``: the answer carries a document named NAME
  (``…`` at its end matches the rest).

Time is a `ManualTimers` the test moves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

from botrt.config import parse_config
from botrt.host import Host
from botrt.protocols.vk._hooks import MemberTracker
from botrt.protocols.vk._typing import TYPING_DELAY
from botrt.testing._fakevk import FakeVK
from botrt.testing._ports import free_port

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "student-group-ru.md"
GROUP, TOKEN, BOT = 123456, "vk1.a.student-group", "group1"
CHAT = 2_000_000_001
PEOPLE = {"Елена": (1, "Смирнова"), "Иван": (11, "Иванов"), "Пётр": (12, "Иванов")}
PEOPLE |= {"Анна": (13, "Петрова"), "Олег": (14, "Сидоров")}
HEAD = 1
SLOW = "docs.getMessagesUploadServer"  # what "Бот печатает…" holds back
_FORWARDS = re.compile(r"пересланы (\d+) сообщени\w* из общего чата")
_REPLY = re.compile(r"ответ на «(.*)»")


class ManualTimers:
    """The typing indicator's time, moved by the test (see tests/vk/test_typing.py)."""

    def __init__(self) -> None:
        self.moment = 0.0
        self.pending: list[tuple[float, Any]] = []

    def now(self) -> float:
        return self.moment

    def call_later(self, delay: float, callback: Any) -> Any:
        entry = [self.moment + delay, callback]
        self.pending.append(entry)  # type: ignore[arg-type]

        class Handle:
            def cancel(self) -> None:
                entry[1] = None

        return Handle()

    def advance(self, seconds: float) -> None:
        self.moment += seconds
        due = [e for e in self.pending if e[0] <= self.moment]
        self.pending = [e for e in self.pending if e[0] > self.moment]
        for _, callback in due:
            if callback is not None:
                callback()


@dataclass
class Turn:
    line: int
    user_id: int
    text: str
    forwards: int = 0
    reply_to: str | None = None
    typing: bool = False
    replies: list[list[str]] = field(default_factory=list)
    sent: list[tuple[list[str], frozenset[int]]] = field(default_factory=list)


def vk_blocks(page: Path) -> list[tuple[int, list[str]]]:
    """The ``VK`` blocks of `page`: (first line number, lines)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, start = [], None
    for number, line in enumerate(lines, 1):
        if start is None and line.strip() == '```text title="VK"':
            start = number + 1
        elif start is not None and line.strip() == "```":
            blocks.append((start, lines[start - 1 : number - 1]))
            start = None
    return blocks


def split_note(text: str, mark: str) -> tuple[str, str | None]:
    body, sep, note = text.partition(f"   {mark}")
    if not sep and text.startswith(mark):
        return "", text.removeprefix(mark).strip()
    return (body.strip(), note.strip()) if sep else (text.strip(), None)


def parse(start: int, lines: list[str]) -> list[Turn]:
    turns: list[Turn] = []
    current: list[str] | None = None
    indent = 0
    everyone = frozenset(uid for uid, _ in PEOPLE.values())
    for number, line in enumerate(lines, start):
        speaker, colon, rest = line.partition(":")
        if line == "Бот печатает…":
            turns[-1].typing = True
            current = None
            continue
        if colon and not line.startswith(" ") and speaker in PEOPLE:
            text, note = split_note(rest.strip(), "↩")
            turn = Turn(number, PEOPLE[speaker][0], text)
            if note and (m := _FORWARDS.fullmatch(note)):
                turn.forwards = int(m.group(1))
            elif note and (m := _REPLY.fullmatch(note)):
                turn.reply_to = m.group(1)
            elif note:
                raise AssertionError(f"line {number}: what is {note!r}?")
            turns.append(turn)
            current = None
            continue
        if colon and not line.startswith(" ") and speaker.startswith("Бот"):
            indent = len(line) - len(rest.lstrip())
            current = [rest.strip()]
            if speaker == "Бот":
                turns[-1].replies.append(current)
            else:
                name = speaker.removeprefix("Бот → ")
                peers = everyone if name == "всем" else frozenset({PEOPLE[name][0]})
                turns[-1].sent.append((current, peers))
            continue
        assert current is not None, f"line {number}: who says {line!r}?"
        current.append(line[indent:])
    return turns


def config_for(vk: FakeVK, tmp_path: Path) -> Any:
    return parse_config(
        {
            "bot": {"language": "ru", "timezone": "Europe/Moscow"},
            "plugins": {
                "builtin": True,
                "reload": False,
                "settings": {"attendance": {"lessons": ["математика", "физика", "история"]}},
            },
            "storage": {"url": f"sqlite:///{tmp_path / 'bot.db'}"},
            "server": {"host": "127.0.0.1", "port": free_port()},
            "bots": [
                {
                    "name": BOT,
                    "platform": "vk",
                    "token": TOKEN,
                    "group_id": GROUP,
                    "api_url": vk.api_url,
                }
            ],
        },
        base_dir=tmp_path,
    )


def chat_messages(count: int) -> list[dict[str, Any]]:
    """`count` messages of the group chat, as VK puts them in `fwd_messages`."""
    return [
        {
            "date": 1_790_000_000 + i,
            "from_id": 11 + i,
            "text": f"сообщение {i + 1} из общего чата",
            "attachments": [],
            "conversation_message_id": 700 + i,
            "peer_id": CHAT,
        }
        for i in range(count)
    ]


def matches(expected: str, actual: str) -> bool:
    """`actual` is `expected`, where each ``…`` stands for any text."""
    pattern = ".*".join(re.escape(part) for part in expected.split("…"))
    return re.fullmatch(pattern, actual, re.S) is not None


async def replay(vk: FakeVK, host: Host, timers: ManualTimers, turns: list[Turn]) -> None:
    written: dict[str, dict[str, Any]] = {}  # what people wrote, by text
    for turn in turns:
        where = f"{PAGE.name}:{turn.line}"
        before, typed = len(vk.sent), len(vk.activities)
        extra: dict[str, Any] = {}
        if turn.forwards:
            extra["fwd_messages"] = chat_messages(turn.forwards)
        if turn.reply_to is not None:
            answered = written[turn.reply_to]
            keys = ("date", "from_id", "text", "conversation_message_id", "id")
            extra["reply_message"] = {k: answered[k] for k in keys}
        if turn.typing:
            vk.hold(SLOW)
        update = vk.push_message(GROUP, turn.user_id, turn.text, **extra)
        written[turn.text] = update["object"]["message"]
        if turn.typing:
            with anyio.fail_after(10):
                await vk.wait_for(lambda: vk.calls[SLOW] > 0)
            assert len(vk.activities) == typed, f"{where}: typing before the delay"
            timers.advance(TYPING_DELAY)
            with anyio.fail_after(10):
                await vk.wait_for(lambda: len(vk.activities) > typed)  # noqa: B023
            vk.release(SLOW)
        expected = len(turn.replies) + sum(len(peers) for _, peers in turn.sent)
        with anyio.fail_after(20):
            await vk.wait_for(lambda: len(vk.sent) - before >= expected)  # noqa: B023
            await host.background.wait_idle("broadcast")
        timers.advance(60)  # any indicator still armed would fire now
        new = vk.sent[before:]
        assert len(vk.activities) == typed + turn.typing, f"{where}: typing {vk.activities}"
        by_text: dict[str, list[Any]] = {}
        for message in new:
            by_text.setdefault(message.text, []).append(message)
        wanted: list[tuple[str, frozenset[int], str | None]] = []
        for lines in turn.replies:
            text, doc = split_note("\n".join(lines), "📎")
            wanted.append((text, frozenset({turn.user_id}), doc))
        for lines, peers in turn.sent:
            text, note = split_note("\n".join(lines), "↩")
            wanted.append((text, peers, "↩" if note else None))
        assert len(by_text) == len(wanted), f"{where}: the bot sent {list(by_text)}"
        for text, peers, note in wanted:
            found = [t for t in by_text if matches(text, t)]
            assert found, f"{where}: nothing like {text!r} in {list(by_text)}"
            got = by_text[found[0]]
            assert {m.peer_id for m in got} == peers, f"{where}: {text!r} went to {got}"
            if note == "↩":
                assert all(m.forward for m in got), f"{where}: {text!r} forwards nothing"
            elif note is not None:
                (message,) = got
                (doc,) = [d for d in vk.docs if d.attachment == message.attachment]
                assert matches(note, doc.filename), f"{where}: attached {doc.filename!r}"
            else:
                assert not any(m.forward for m in got), f"{where}: {text!r} forwards"


async def test_the_vk_conversations_of_the_russian_page(tmp_path: Path) -> None:
    blocks = vk_blocks(PAGE)
    assert len(blocks) == 2
    turns = [t for start, lines in blocks for t in parse(start, lines)]
    assert any(t.forwards for t in turns)
    assert any(t.reply_to for t in turns)
    assert any(t.typing for t in turns)
    async with FakeVK() as vk:
        people = [uid for uid, _ in PEOPLE.values()]
        vk.add_group(GROUP, token=TOKEN, members=people, managers={HEAD: "administrator"})
        for first, (uid, last) in PEOPLE.items():
            vk.add_user(uid, first, last)
        host = Host(config_for(vk, tmp_path))
        assert not await host.start()
        middleware = host.pm.get_plugin(MemberTracker.name)
        assert isinstance(middleware, MemberTracker)
        assert middleware.typing is not None
        timers = ManualTimers()
        middleware.typing.timers = timers
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: host.serve(signals=False))
                await host.sync_members()
                with anyio.fail_after(10):
                    await vk.wait_for(lambda: vk.calls["groups.getLongPollServer"] >= 1)
                await replay(vk, host, timers, turns)
                host.request_stop()
        finally:
            await host.stop()


def test_the_page_shows_the_formats_this_test_reads() -> None:
    """A block this file cannot read fails here, not as a confusing replay."""
    turns = [t for start, lines in vk_blocks(PAGE) for t in parse(start, lines)]
    assert [(t.forwards, t.reply_to is not None, t.typing) for t in turns] == [
        (2, False, False),
        (0, False, False),
        (0, True, False),
        (0, False, False),
        (0, False, True),
    ]
