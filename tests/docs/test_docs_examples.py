"""Every example in docs/ runs, so the documentation cannot drift from the code.

The pages follow three conventions, which this file enforces:

- A fenced block with a file name as its title (```` ```python title="plugins/x/__plugin__.py" ````)
  is a file. Every file of a page is written into a fresh folder before each
  example of that page runs there; Python files must compile, TOML files must
  parse, and a ``bot.toml`` must pass botrt's own config validation.
- A ```` ```python ```` block without a title is an example. It runs in that folder
  as a script in which top-level ``await`` is allowed (as in ``python -m asyncio``),
  and checks its own results with ``assert``. Tracebacks point at the Markdown line.
- A ```` ```text title="Chat" ```` block is a conversation with the built-in
  plugins (the student-group page): ``Name: message`` lines are sent by that
  person, ``Bot: reply`` lines are the replies expected, and
  ``Bot to Name, Name: text`` lines the messages the bot sends on its own.
  A reply line ending with ``…`` matches any text that starts with what precedes it.
  A page whose name ends in ``-ru`` is the Russian version: its bot runs with
  ``[bot] language = "ru"``, its people have Russian names, and the bot's lines
  read ``Бот: reply`` and ``Бот → Имя, Имя: text`` (``Бот → всем`` for everyone).

``--8<-- "path"`` lines inside a block are replaced by that file, as
``pymdownx.snippets`` does when the site is built.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import tomllib
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from botrt.adapter import MemberInfo
from botrt.config import parse_config
from botrt.testing import TestHost

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GENERATED = {"benchmarks.md"}  # written by the benchmark scripts, not by hand
PAGES = sorted(p for p in DOCS.glob("*.md") if p.name not in GENERATED)

# Values for the ${VAR}s the pages' bot.toml files read from the environment.
ENVIRONMENT = {
    "VK_TOKEN": "vk1.a.example-token",
    "VK_TOKEN_1": "vk1.a.example-token-1",
    "VK_TOKEN_2": "vk1.a.example-token-2",
    "VK_SECRET": "example-secret",
    "VK_CONFIRMATION": "1a2b3c4d",
    "BOTRT_DB_PASSWORD": "example-password",
}

_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_TITLE = re.compile(r'title="(?P<title>[^"]*)"')
_SNIPPET = re.compile(r'^\s*--8<--\s+"(?P<path>[^"]+)"\s*$')
_FILE_NAME = re.compile(r"[\w.\-/]+")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # the line of the block's first code line, from 1
    lang: str
    title: str | None
    code: str

    @property
    def where(self) -> str:
        return f"{self.page.name}:{self.line}"

    @property
    def is_file(self) -> bool:
        t = self.title
        return t is not None and bool(_FILE_NAME.fullmatch(t)) and ("." in t or "/" in t)

    @property
    def is_example(self) -> bool:
        return self.lang == "python" and self.title is None

    @property
    def is_chat(self) -> bool:
        return self.lang == "text" and self.title == "Chat"


def blocks_of(page: Path) -> list[Block]:
    """The fenced code blocks of `page`, in order (also those indented in admonitions)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, fence, info = opening["indent"], opening["fence"], opening["info"].strip()
        lang = info.strip("{} ").split(" ")[0].lstrip(".") if info else ""
        title = _TITLE.search(info)
        body: list[str] = []
        start = i + 2
        i += 1
        while i < len(lines):
            closing = lines[i]
            if closing.startswith(indent) and closing[len(indent) :].rstrip() == fence:
                break
            body.append(closing[len(indent) :] if closing.startswith(indent) else closing.lstrip())
            i += 1
        i += 1
        code = "\n".join(_with_snippets(body)) + "\n"
        found.append(Block(page, start, lang, title["title"] if title else None, code))
    return found


def _with_snippets(body: list[str]) -> Iterator[str]:
    for line in body:
        snippet = _SNIPPET.match(line)
        if snippet is None:
            yield line
        else:
            yield from (ROOT / snippet["path"]).read_text(encoding="utf-8").splitlines()


ALL_BLOCKS = [b for page in PAGES for b in blocks_of(page)]
EXAMPLES = [b for b in ALL_BLOCKS if b.is_example]
FILES = [b for b in ALL_BLOCKS if b.is_file]
CHAT_PAGES = sorted({b.page for b in ALL_BLOCKS if b.is_chat})


def write_files(page: Path, folder: Path, *, before: int | None = None) -> None:
    """Write the files shown on `page` (above line `before`) into `folder`.

    A file shown twice is written as it was shown last, as a reader would have it.
    """
    for block in FILES:
        if block.page == page and (before is None or block.line < before):
            path = folder / block.title  # type: ignore[operator]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.code, encoding="utf-8")


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


# -- the examples ----------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("block", EXAMPLES, ids=[b.where for b in EXAMPLES])
async def test_example_runs(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environment: None
) -> None:
    write_files(block.page, tmp_path, before=block.line)
    monkeypatch.chdir(tmp_path)
    # Packages shown on the page (a hooks module, say) import as if installed.
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(os, "environ", os.environ.copy())  # examples may set variables
    # Padded so that line numbers in tracebacks are the Markdown file's.
    source = "\n" * (block.line - 1) + block.code
    code = compile(source, str(block.page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    # A real module, so that dataclasses, pickling and typing find the example's names.
    module = types.ModuleType(f"docs_example_{block.page.stem}_{block.line}".replace("-", "_"))
    sys.modules[module.__name__] = module
    try:
        result = eval(code, module.__dict__)
        if inspect.isawaitable(result):
            with anyio.fail_after(60):
                await result
    finally:
        del sys.modules[module.__name__]
        for name, loaded in list(sys.modules.items()):
            if str(getattr(loaded, "__file__", None) or "").startswith(str(tmp_path)):
                del sys.modules[name]


@pytest.mark.parametrize("block", FILES, ids=[b.where for b in FILES])
def test_file_is_valid(block: Block, tmp_path: Path, environment: None) -> None:
    name = Path(block.title or "")
    if name.suffix == ".py":
        compile(block.code, block.where, "exec")
    elif name.suffix == ".toml":
        data = tomllib.loads(block.code)
        if name.name == "bot.toml":
            (tmp_path / "plugins").mkdir()
            parse_config(data, base_dir=tmp_path)


def test_examples_check_what_they_show() -> None:
    """An example that asserts nothing would pass whatever the code does."""
    silent = [b.where for b in EXAMPLES if not re.search(r"^\s*assert\b", b.code, re.M)]
    assert silent == []


def test_every_python_block_of_the_flows_page_is_run() -> None:
    """Each Python block is an example or a file that an example loads."""
    flows = DOCS / "flows.md"
    blocks = [b for b in ALL_BLOCKS if b.page == flows and b.lang == "python"]
    assert len([b for b in blocks if b.is_example]) >= 20
    examples = "".join(b.code for b in blocks if b.is_example)
    for b in blocks:
        if b.is_example:
            continue
        assert b.is_file, f"{b.where}: a Python block is either an example or a titled file"
        folder = Path(b.title or "").parts[:2]  # plugins/<name>
        assert "/".join(folder) in examples, f"{b.where}: no example loads {b.title}"


def test_pages_are_in_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in [*DOCS.glob("*.md"), *(DOCS / "reference").glob("*.md")]:
        assert str(page.relative_to(DOCS)) in nav, f"{page.name} is not in mkdocs.yml's nav"


# -- conversations with the built-in plugins -------------------------------------

# The group the student-group page talks about; the page introduces these people.
ROSTER = [
    MemberInfo(1, "Elena", "Smirnova", "administrator"),
    MemberInfo(11, "Ivan", "Ivanov"),
    MemberInfo(12, "Petr", "Ivanov"),
    MemberInfo(13, "Anna", "Petrova"),
    MemberInfo(14, "Oleg", "Sidorov"),
]
ROSTER_RU = [
    MemberInfo(1, "Елена", "Смирнова", "administrator"),
    MemberInfo(11, "Иван", "Иванов"),
    MemberInfo(12, "Пётр", "Иванов"),
    MemberInfo(13, "Анна", "Петрова"),
    MemberInfo(14, "Олег", "Сидоров"),
]
ADMINS = {1}


@dataclass(frozen=True)
class Speech:
    """How a page's conversations are written: its language, its people, the bot's labels."""

    language: str
    roster: list[MemberInfo]
    bot: str
    bot_to: str
    everyone: str


ENGLISH = Speech("en", ROSTER, "Bot", "Bot to ", "everyone")
RUSSIAN = Speech("ru", ROSTER_RU, "Бот", "Бот → ", "всем")


def speech_of(page: Path) -> Speech:
    return RUSSIAN if page.stem.endswith("-ru") else ENGLISH


@dataclass
class Turn:
    """One message of a conversation and what the bot answers."""

    line: int
    user_id: int
    text: str
    replies: list[list[str]]  # each reply's lines
    sent: list[tuple[list[str], frozenset[int]]]  # each message's lines, and its recipients

    def expected_replies(self) -> list[str]:
        return [_joined(r) for r in self.replies]

    def expected_sent(self) -> list[tuple[str, frozenset[int]]]:
        return [(_joined(lines), peers) for lines, peers in self.sent]


def _joined(lines: list[str]) -> str:
    return "\n".join(lines).rstrip("\n")


def parse_chat(block: Block) -> list[Turn]:
    """The turns of a ``Chat`` block (see the module docstring for the format)."""
    speech = speech_of(block.page)
    people = {m.first_name: m.user_id for m in speech.roster}
    turns: list[Turn] = []
    current: list[str] | None = None  # the lines of the bot's text being read
    indent = 0
    for number, line in enumerate(block.code.splitlines(), block.line):
        where = f"{block.page.name}:{number}"
        speaker, colon, rest = line.partition(":")
        person = bool(colon) and speaker in people
        bot = bool(colon) and (speaker == speech.bot or speaker.startswith(speech.bot_to))
        if not line.startswith(" ") and (person or bot):
            indent = len(line) - len(rest.lstrip())
            current = [rest.strip()]
            if person:
                turns.append(Turn(number, people[speaker], rest.strip(), [], []))
                current = None
            elif speaker == speech.bot:
                assert turns, f"{where}: the bot answers before anyone wrote"
                turns[-1].replies.append(current)
            else:  # "Bot to Anna, Oleg: ..." or "Bot to everyone: ..."
                assert turns, f"{where}: the bot sends before anyone wrote"
                names = speaker.removeprefix(speech.bot_to).split(", ")
                if names == [speech.everyone]:
                    ids = frozenset(m.user_id for m in speech.roster)
                else:
                    assert set(names) <= set(people), f"{where}: who are {names}?"
                    ids = frozenset(people[n] for n in names)
                turns[-1].sent.append((current, ids))
            continue
        if current is None:
            assert not line.strip(), f"{where}: who says {line!r}?"
            continue
        current.append(line[indent:] if not line[:indent].strip() else line.strip())
    return turns


def matches(expected: str, actual: str) -> bool:
    if expected.endswith("…"):
        return actual.startswith(expected[:-1])
    return expected == actual


def settings_of(page: Path) -> dict[str, Any]:
    """``[plugins.settings]`` of the page's ``bot.toml``."""
    shown = [b for b in FILES if b.page == page and b.title == "bot.toml"]
    if not shown:
        return {}
    return dict(tomllib.loads(shown[-1].code).get("plugins", {}).get("settings", {}))


@pytest.mark.anyio
@pytest.mark.parametrize("page", CHAT_PAGES, ids=[p.name for p in CHAT_PAGES])
async def test_conversations(page: Path, tmp_path: Path) -> None:
    speech = speech_of(page)
    config = {
        "bot": {"language": speech.language},
        "storage": {"url": f"sqlite:///{tmp_path / 'bot.db'}"},
        "plugins": {"builtin": True, "settings": settings_of(page)},
    }
    turns = [t for b in ALL_BLOCKS if b.page == page and b.is_chat for t in parse_chat(b)]
    assert turns
    async with TestHost(config=config) as host:
        await host.host.members.sync("memory", speech.roster)  # type: ignore[union-attr]
        for turn in turns:
            where = f"{page.name}:{turn.line}"
            role = "admin" if turn.user_id in ADMINS else "member"
            before = len(host.outbound.sent)
            with anyio.fail_after(20):
                replies = await host.send(turn.text, user_id=turn.user_id, role=role)
                for name in list(host.host.runtime.plugins):
                    await host.host.background.wait_idle(name)
            expected_replies = turn.expected_replies()
            assert len(replies) == len(expected_replies), f"{where}: replies {replies!r}"
            for expected, actual in zip(expected_replies, replies, strict=True):
                assert matches(expected, actual), f"{where}: expected {expected!r}, got {actual!r}"
            sent: dict[str, set[int]] = {}
            for peer, text, _ in host.outbound.sent[before:]:
                sent.setdefault(text, set()).add(peer)
            expected_sent = turn.expected_sent()
            assert len(sent) == len(expected_sent), f"{where}: the bot sent {sent!r}"
            for (expected, peers), (actual, got) in zip(expected_sent, sent.items(), strict=True):
                assert matches(expected, actual), f"{where}: expected {expected!r}, got {actual!r}"
                assert peers == got, f"{where}: {actual!r} went to {sorted(got)}"


# -- what an example cannot show: a reload -----------------------------------------


@pytest.mark.anyio
async def test_the_counter_plugin_keeps_its_count_across_a_reload(tmp_path: Path) -> None:
    """plugins.md's counter hands its state over, as the page says a reload shows."""
    write_files(DOCS / "plugins.md", tmp_path)
    folder = tmp_path / "plugins" / "counter"
    async with TestHost(plugins=[folder]) as host:
        assert await host.send("/count") == ["count: 1"]
        assert await host.send("/count") == ["count: 2"]
        source = folder / "__plugin__.py"
        edited = source.read_text(encoding="utf-8").replace('f"count: ', 'f"now at ')
        source.write_text(edited.replace('"1.0.0"', '"1.0.1"'), encoding="utf-8")
        runtime = host.host.runtime  # what the file watcher of `botrt serve` calls
        old = await runtime.swap("counter", runtime.import_plugin("counter", folder))
        assert old is not None
        assert old.version == "1.0.0"
        assert await host.send("/count") == ["now at 3"]


# -- the site ----------------------------------------------------------------------


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed (the docs extra)"
)
def test_the_site_builds_with_no_warning(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
