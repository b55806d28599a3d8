"""A plugin's catalogs reload with it: saving a ``.po`` file is an edit of the plugin."""

from __future__ import annotations

from pathlib import Path

import pytest
from reloadkit import running_bot

pytestmark = pytest.mark.anyio

PLUGIN = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command

HI = PluginPlanner(version="1.0.0")


@HI.use
@on_command("hi")
async def hi(event: TextEvent) -> None:
    await event.reply(HI.gettext("Hello!"))
"""


def catalog(text: str) -> str:
    return f'msgid ""\nmsgstr "Language: ru\\n"\n\nmsgid "Hello!"\nmsgstr "{text}"\n'


PO = "hi/locales/ru/LC_MESSAGES/messages.po"


async def test_an_edited_catalog_reloads_the_plugin_with_it(tmp_path: Path) -> None:
    files = {"hi/__plugin__.py": PLUGIN, PO: catalog("Привет!")}
    async with running_bot(tmp_path, files, toml='[bot]\nlanguage = "ru"\n') as bot:
        assert await bot.send("/hi") == ["Привет!"]
        bot.write(PO, catalog("Здравствуйте!"))
        assert await bot.observer.next("reloaded") == ("reloaded", "hi", "1.0.0")
        assert await bot.send("/hi") == ["Здравствуйте!"]
        # A broken catalog is refused like a broken module: the running version keeps serving.
        bot.write(PO, 'msgid "Hello!"\n')
        _, name, issues = await bot.observer.next("refused")
        assert name == "hi"
        assert str(bot.plugins / PO) in issues[0]
        assert await bot.send("/hi") == ["Здравствуйте!"]
