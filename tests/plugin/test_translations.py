"""A plugin's own gettext catalogs: found in its folder, in the bot's language, with fallbacks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from botrt.config import ConfigError, parse_config
from botrt.i18n import CatalogError, Translator, core_translator, missing_translations
from botrt.plugin import PluginLoadError
from botrt.testing import TestHost

pytestmark = pytest.mark.anyio

HELP = Path(__file__).resolve().parents[2] / "plugins" / "help"

PLUGIN = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command
from botrt.i18n import N_

GREET = PluginPlanner(version="1.0.0")
_ = GREET.gettext


@GREET.use
@on_command("greet", aliases=["привет"], description=N_("say hello"))
async def greet(event: TextEvent) -> None:
    await event.reply(_("Hello!"))
    await event.reply(_("Not translated yet"))
    for n in (1, 2, 5, 11, 21):
        await event.reply(GREET.ngettext("{n} apple", "{n} apples", n).format(n=n))
    await event.reply(GREET.ngettext("{n} pear", "{n} pears", 5).format(n=5))
"""

HEADER = r"""
msgid ""
msgstr ""
"Language: ru\n"
"Content-Type: text/plain; charset=utf-8\n"
"Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && "
"n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);\n"
"""

CATALOG = (
    HEADER
    + """
msgid "Hello!"
msgstr "Привет!"

msgid "Not translated yet"
msgstr ""

msgid "{n} apple"
msgid_plural "{n} apples"
msgstr[0] "{n} яблоко"
msgstr[1] "{n} яблока"
msgstr[2] "{n} яблок"

msgid "{n} pear"
msgid_plural "{n} pears"
msgstr[0] "{n} груша"
msgstr[1] ""
msgstr[2] ""

msgid "say hello"
msgstr "поздороваться"

msgctxt "command"
msgid "greet"
msgstr "привет"
"""
)


def make_plugin(root: Path, catalog: str | None = CATALOG) -> Path:
    folder = root / "greet"
    folder.mkdir()
    (folder / "__plugin__.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    if catalog is not None:
        po = folder / "locales" / "ru" / "LC_MESSAGES" / "messages.po"
        po.parent.mkdir(parents=True)
        po.write_text(catalog, encoding="utf-8")
    return folder


async def test_a_plugin_speaks_russian_from_its_own_catalog(tmp_path: Path) -> None:
    folder = make_plugin(tmp_path)
    async with TestHost(plugins=[folder], config={"bot": {"language": "ru"}}) as host:
        assert await host.send("/привет") == [
            "Привет!",
            "Not translated yet",  # untranslated: the source text
            "1 яблоко",
            "2 яблока",
            "5 яблок",
            "11 яблок",
            "21 яблоко",
            "5 pears",  # plural forms only partly translated: the source, whole
        ]


async def test_an_english_bot_gets_the_source_texts(tmp_path: Path) -> None:
    folder = make_plugin(tmp_path)
    async with TestHost(plugins=[folder]) as host:
        replies = await host.send("/greet")
        assert replies[:4] == ["Hello!", "Not translated yet", "1 apple", "2 apples"]


async def test_a_plugin_without_catalogs_falls_back_to_the_source(tmp_path: Path) -> None:
    folder = make_plugin(tmp_path, catalog=None)
    async with TestHost(plugins=[folder], config={"bot": {"language": "ru"}}) as host:
        replies = await host.send("/greet")
        assert replies[:5] == ["Hello!", "Not translated yet", "1 apple", "2 apples", "5 apples"]


async def test_help_shows_a_plugins_command_under_its_translated_name(tmp_path: Path) -> None:
    folder = make_plugin(tmp_path)
    async with TestHost(plugins=[HELP, folder], config={"bot": {"language": "ru"}}) as host:
        (listing,) = await host.send("/помощь")
        assert "[greet]\n/привет - поздороваться" in listing


async def test_a_broken_catalog_refuses_the_plugin_naming_file_and_line(tmp_path: Path) -> None:
    folder = make_plugin(tmp_path, catalog=HEADER + '\nmsgid "Hello!"\n\nmsgid "Bye"\nmsgstr ""\n')
    with pytest.raises(PluginLoadError) as caught:
        async with TestHost(plugins=[folder], config={"bot": {"language": "ru"}}):
            pass
    (issue,) = caught.value.issues
    assert issue.file == str(folder / "locales" / "ru" / "LC_MESSAGES" / "messages.po")
    assert issue.line is not None


def test_a_translator_follows_the_language_it_is_bound_to(tmp_path: Path) -> None:
    folder = make_plugin(tmp_path)
    language = ["en"]
    t = Translator.from_folder(folder, lambda: language[0])
    assert t.gettext("Hello!") == "Hello!"
    language[0] = "ru"
    assert t.gettext("Hello!") == "Привет!"
    assert t.pgettext("command", "greet") == "привет"
    assert t.languages == ("ru",)


def test_unreadable_catalog_is_a_catalog_error(tmp_path: Path) -> None:
    folder = make_plugin(tmp_path, catalog=HEADER + '\nmsgid "x"\n')
    with pytest.raises(CatalogError, match=r"messages\.po:\d+: "):
        Translator.from_folder(folder)


def test_missing_translations_lists_what_a_catalog_lacks(tmp_path: Path) -> None:
    folder = make_plugin(tmp_path)
    missing = missing_translations(folder, ["en", "ru"])
    assert sorted((m.language, m.message) for m in missing) == [
        ("ru", "Not translated yet"),
        ("ru", "{n} pear"),
    ]
    assert all(m.location.startswith(str(folder / "__plugin__.py") + ":") for m in missing)
    assert missing_translations(folder, ["en"]) == []


def test_language_is_validated_naming_the_key() -> None:
    assert parse_config({"bot": {"language": "ru"}}, base_dir=Path.cwd()).bot.language == "ru"
    assert parse_config({}, base_dir=Path.cwd()).bot.language == "en"
    with pytest.raises(ConfigError, match=r'bot\.language: expected "en" or "ru", got "de"'):
        parse_config({"bot": {"language": "de"}}, base_dir=Path.cwd())


def test_the_runtime_has_its_own_russian_catalog_for_the_core_to_use() -> None:
    core = core_translator("ru")
    assert (
        core.gettext("Only admins can use {command}.")
        == "Команда {command} доступна только админам."
    )
    assert core_translator("en").gettext("Only admins can use {command}.") == (
        "Only admins can use {command}."
    )
