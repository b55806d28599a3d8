"""Shared by the durable-state tests: a form plugin with states, and hosts to run it."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event as sa_event

from botrt.testing import TestHost

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

FORM = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import CommandArgs, Conversation, ConversationDataError
from botrt.handle import on_command, on_state, on_text

PLUGIN = PluginPlanner(version="VERSION")


@PLUGIN.use
@on_command("register")
async def start(event: TextEvent, conv: Conversation) -> None:
    await conv.set("name", started=True)
    await event.reply("Your name?")


@PLUGIN.use
@on_state("name")
async def got_name(event: TextEvent, conv: Conversation, args: CommandArgs) -> None:
    await conv.set("age", name=str(args))
    await event.reply("PREFIXYour age?")


@PLUGIN.use
@on_state("age")
async def got_age(event: TextEvent, conv: Conversation) -> None:
    name = conv.data["name"]
    await conv.clear()
    await event.reply(f"{name}, {event.text}")


@PLUGIN.use
@on_state("wait")
async def still(event: TextEvent) -> None:
    await event.reply("still waiting")


@PLUGIN.use
@on_command("wait")
async def wait(event: TextEvent, conv: Conversation) -> None:
    await conv.set("wait")
    await event.reply("waiting")


@PLUGIN.use
@on_command("ghost")
async def ghost(event: TextEvent, conv: Conversation) -> None:
    await conv.set("ghost")
    await event.reply("boo")


@PLUGIN.use
@on_command("bad")
async def bad(event: TextEvent, conv: Conversation) -> None:
    try:
        await conv.set("name", when={1, 2})
    except ConversationDataError as exc:
        await event.reply(f"refused: {exc}")
    await event.reply(f"state: {conv.state}")


@PLUGIN.use
@on_command("whoami")
async def whoami(event: TextEvent, conv: Conversation) -> None:
    await event.reply(f"{conv.state} {sorted(conv.data.items())}")


@PLUGIN.use
@on_command("cancel")
async def cancel(event: TextEvent) -> None:
    await event.reply("nothing to cancel")


@PLUGIN.use
@on_text(lambda text: not text.startswith("/"))
async def other(event: TextEvent) -> None:
    await event.reply("text:" + event.text)
"""


def form_plugin(root: Path, *, version: str = "1", prefix: str = "", source: str = FORM) -> Path:
    folder = root / "form"
    folder.mkdir(parents=True, exist_ok=True)
    text = source.replace("VERSION", version).replace("PREFIX", prefix)
    (folder / "__plugin__.py").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return folder


def host_on(folder: Path, db: Path | str, **config: Any) -> TestHost:
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    return TestHost(plugins=[folder], config={"storage": {"url": url}, **config})


@contextmanager
def statements(host: TestHost) -> Iterator[list[str]]:
    """Every SQL statement the host's storage runs inside the block."""
    seen: list[str] = []
    engine = host.host.storage.engine.sync_engine

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
