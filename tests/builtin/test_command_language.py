"""Command names follow ``[bot] language``: other languages' names stay out (SPEC §10).

A plugin's catalog translates a command's name (``msgctxt "command"``); that
translation is an alias in a bot of that language only. The runtime's own
refusal of a privileged command speaks the bot's language too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from botrt.testing import TestHost

# What a private chat gets for a command the bot does not have ([bot] unknown_command_reply).
UNKNOWN = ["Unknown command. Send /help to see the commands."]

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "plugins"
BUILTINS = [PLUGINS / "help", PLUGINS / "broadcast", PLUGINS / "attendance"]
RU = {"bot": {"language": "ru"}}
RUSSIAN_NAMES = ["помощь", "рассылка", "рассылка-админам", "прогул", "был", "посещаемость"]

GREET = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command

GREET = PluginPlanner(version="1.0.0")


@GREET.use
@on_command("greet", aliases=["привет", "hi", "салют"], privileged=True)
async def greet(event: TextEvent) -> None:
    await event.reply("hello")
"""

GREET_PO = r"""msgid ""
msgstr ""
"Language: ru\n"
"Content-Type: text/plain; charset=utf-8\n"

msgctxt "command"
msgid "greet"
msgstr "привет"
"""


def greet_plugin(tmp_path: Path) -> Path:
    folder = tmp_path / "greet"
    (folder / "locales" / "ru" / "LC_MESSAGES").mkdir(parents=True)
    (folder / "__plugin__.py").write_text(GREET, encoding="utf-8")
    (folder / "locales" / "ru" / "LC_MESSAGES" / "messages.po").write_text(
        GREET_PO, encoding="utf-8"
    )
    return folder


@pytest.mark.parametrize("name", RUSSIAN_NAMES)
async def test_an_english_bot_does_not_answer_to_the_russian_names(name: str) -> None:
    async with TestHost(plugins=BUILTINS) as host:
        assert await host.send(f"/{name}", role="admin") == UNKNOWN
        (listing,) = await host.send("/help", role="admin")
        assert name not in listing


@pytest.mark.parametrize("name", RUSSIAN_NAMES)
async def test_a_russian_bot_answers_to_both_names(name: str) -> None:
    async with TestHost(plugins=BUILTINS, config=RU) as host:
        assert await host.send(f"/{name}", role="admin") != []
        (info,) = await host.send(f"/помощь {name}", role="admin")
        assert info.startswith(f"/{name}")


async def test_the_refusal_speaks_the_bots_language_and_names_the_command_in_it() -> None:
    async with TestHost(plugins=BUILTINS, config=RU) as host:
        assert await host.send("/рассылка Привет") == ["Команда рассылка доступна только админам."]
        assert await host.send("/broadcast Hi") == ["Команда рассылка доступна только админам."]
        assert await host.send("/прогул Иванов") == ["Команда прогул доступна только админам."]
    async with TestHost(plugins=BUILTINS) as host:
        assert await host.send("/mb Hi") == ["Only admins can use broadcast."]


async def test_a_plugins_own_alias_in_another_language_follows_its_catalog(
    tmp_path: Path,
) -> None:
    folder = greet_plugin(tmp_path)
    async with TestHost(plugins=[folder]) as host:
        assert await host.send("/привет", role="admin") == UNKNOWN  # the Russian name, in English
        assert await host.send("/hi", role="admin") == ["hello"]
        assert await host.send("/салют", role="admin") == ["hello"]  # translates nothing: kept
        assert await host.send("/привет") == UNKNOWN
        assert await host.send("/greet") == ["Only admins can use greet."]
    async with TestHost(plugins=[folder], config=RU) as host:
        assert await host.send("/привет", role="admin") == ["hello"]
        assert await host.send("/greet", role="admin") == ["hello"]
        assert await host.send("/greet") == ["Команда привет доступна только админам."]
