"""The built-in help plugin through a real host."""

from __future__ import annotations

from pathlib import Path

import pytest

from botrt.testing import TestHost

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
HELP = ROOT / "plugins" / "help"
ECHO = ROOT / "examples" / "echo"

ADMIN_PLUGIN = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command

PLUGIN = PluginPlanner(version="1.0.0")

@PLUGIN.use
@on_command("wipe", description="erase everything", usage="wipe CONFIRM", privileged=True)
async def wipe(event: TextEvent) -> None:
    await event.reply("wiped")
"""


@pytest.fixture
def admin_plugin(tmp_path: Path) -> Path:
    folder = tmp_path / "danger"
    folder.mkdir()
    (folder / "__plugin__.py").write_text(ADMIN_PLUGIN, encoding="utf-8")
    return folder


async def test_help_lists_commands_by_plugin_for_members(admin_plugin: Path) -> None:
    async with TestHost(plugins=[HELP, ECHO, admin_plugin]) as host:
        (listing,) = await host.send("/help")
        assert listing.splitlines() == [
            "Commands:",
            "[help]",
            "/help - list the commands you can use, or show one",
            "",
            "[echo]",
            "/echo - repeat the text",
            "",
            "Send /help COMMAND for details.",
        ]
        assert await host.send("/h") == [listing]


async def test_admins_also_see_privileged_commands(admin_plugin: Path) -> None:
    async with TestHost(plugins=[HELP, ECHO, admin_plugin]) as host:
        (listing,) = await host.send("/help", role="admin")
        assert "[danger]\n/wipe - erase everything (admins)" in listing


async def test_help_name_shows_usage_and_aliases(admin_plugin: Path) -> None:
    config = {"bot": {"prefixes": [".", "/"]}}
    async with TestHost(plugins=[HELP, ECHO, admin_plugin], config=config) as host:
        assert await host.send(".help echo") == [
            ".echo TEXT\nrepeat the text\nAliases: .say\nPlugin: echo"
        ]
        assert await host.send(".help /say") == await host.send(".help echo")
        assert await host.send(".help wipe") == ["No command 'wipe'. Send .help for the list."]
        assert (await host.send(".help wipe", role="admin"))[0].startswith(".wipe CONFIRM")
        assert await host.send(".help nope") == ["No command 'nope'. Send .help for the list."]


async def test_help_follows_unloads_at_once() -> None:
    async with TestHost(plugins=[HELP, ECHO]) as host:
        assert "/echo" in (await host.send("/help"))[0]
        await host.host.runtime.swap("echo", None)
        assert "/echo" not in (await host.send("/help"))[0]


async def test_a_long_list_is_split_into_messages_within_the_limit(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    lines = ["from botrt import PluginPlanner", "from botrt.handle import on_command",
             "PLUGIN = PluginPlanner(version='1')"]  # fmt: skip
    for i in range(120):
        lines += [
            "@PLUGIN.use",
            f"@on_command('cmd{i:03d}', description='{'word ' * 12}{i}')",
            f"async def c{i}() -> None: ...",
        ]
    (folder / "__plugin__.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    async with TestHost(plugins=[HELP, folder]) as host:
        messages = await host.send("/help")
    assert len(messages) > 1
    assert all(len(m) <= 4096 for m in messages)
    joined = "\n".join(messages).splitlines()
    assert sum(1 for line in joined if line.startswith("/cmd")) == 120
    assert all(line.endswith(str(i)) for i, line in enumerate(
        line for line in joined if line.startswith("/cmd")
    ))  # fmt: skip
