"""Event binders through a real host: prefixes, aliases, privileges, arguments, catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from pluginkit import write_plugin

from botrt.adapter import Event
from botrt.testing import MemoryEvent, TestHost

pytestmark = pytest.mark.anyio

BINDERS = """
from botrt import PluginPlanner
from botrt.adapter import Event, TextEvent
from botrt.handle import CommandArgs, on_command, on_event, on_start_match, on_text
from botrt.plugin import CommandCatalog

PLUGIN = PluginPlanner(version="2.1.0")


class Ping(Event):
    def __init__(self) -> None:
        super().__init__(platform="memory", bot="memory")


@PLUGIN.use
@on_command("args", aliases=["a"], description="show arguments", usage="args WORDS...")
async def show_args(event: TextEvent, args: CommandArgs) -> None:
    await event.reply(f"{args.command}|{args}|{args.argv}")


@PLUGIN.use
@on_command("secret", description="admins only", privileged=True)
async def secret(event: TextEvent) -> None:
    await event.reply("the secret")


@PLUGIN.use
@on_start_match(["!", "?"])
async def bang(event: TextEvent, rest: CommandArgs) -> None:
    await event.reply(f"start:{rest.command}:{rest}")


@PLUGIN.use
@on_text(lambda text: "banana" in text)
async def fruit(event: TextEvent) -> None:
    await event.reply("fruit")


@PLUGIN.use
@on_event(Ping)
async def pinged(event: Ping) -> None:
    PINGS.append(event)


PINGS = []


@PLUGIN.use
@on_command("list")
async def list_commands(event: TextEvent, catalog: CommandCatalog) -> None:
    await event.reply(",".join(f"{c.plugin}:{c.name}" for c in catalog.all()))
"""


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    return write_plugin(tmp_path, "binders", {"__plugin__.py": BINDERS})


async def test_command_with_prefixes_aliases_and_arguments(plugin: Path) -> None:
    config = {"bot": {"prefixes": ["/", "."]}}
    async with TestHost(plugins=[plugin], config=config) as host:
        assert await host.send("/args one  two") == ["/args|one  two|['one', 'two']"]
        assert await host.send(".a x") == [".a|x|['x']"]
        assert await host.send("/ARGS") == ["/ARGS||[]"]
        assert await host.send("/argsx") == []  # the name must end at a space or the end
        assert await host.send("args") == []  # no prefix, no command
        assert await host.send("#args") == []


async def test_text_that_matches_nothing_gets_no_reply(plugin: Path) -> None:
    async with TestHost(plugins=[plugin]) as host:
        assert await host.send("hello there") == []
        assert await host.send("/unknown command") == []


async def test_privileged_commands_run_only_for_admins(plugin: Path) -> None:
    config = {"bot": {"admins": [99]}}
    async with TestHost(plugins=[plugin], config=config) as host:
        assert await host.send("/secret", role="member") == ["Only admins can use secret."]
        assert await host.send("/secret", role="admin") == ["the secret"]
        assert await host.send("/secret", user_id=99) == ["the secret"]


async def test_start_match_text_and_event_binders(plugin: Path) -> None:
    async with TestHost(plugins=[plugin]) as host:
        assert await host.send("!go now") == ["start:!:go now"]
        assert await host.send("?q") == ["start:?:q"]
        assert await host.send("I like banana") == ["fruit"]
        module = next(iter(host.host.runtime.plugins.values())).planner.flows[4].nodes[0].fn
        ping_cls = module.__globals__["Ping"]
        event = ping_cls()
        assert isinstance(event, Event)
        await host.emit(event)
        assert module.__globals__["PINGS"] == [event]
        assert await host.emit(MemoryEvent("plain")) == []


async def test_the_catalog_lists_commands_for_other_plugins(plugin: Path) -> None:
    async with TestHost(plugins=[plugin]) as host:
        assert await host.send("/list") == ["binders:args,binders:secret,binders:list"]
        info = host.host.catalog.find("a")
        assert info is not None
        assert info.spec.usage == "args WORDS..."
        assert info.location.startswith(str(plugin / "__plugin__.py"))
        assert host.host.catalog.plugins() == [("binders", "2.1.0")]


def test_bad_command_names_are_refused() -> None:
    from botrt.handle import on_command

    for bad in ("/help", "two words", ""):
        with pytest.raises(ValueError, match="not a valid command name"):
            on_command(bad)


async def test_the_command_word_ends_at_a_newline_too(plugin: Path) -> None:
    async with TestHost(plugins=[plugin]) as host:
        assert await host.send("/args\nfirst line\nsecond") == [
            "/args|first line\nsecond|['first', 'line', 'second']"
        ]
