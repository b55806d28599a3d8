"""The files `botrt init` and `botrt new-plugin` write, as `string.Template` texts.

`string.Template` rather than `str.format`: the generated Python is full of braces
(f-strings) that `$name` placeholders leave alone. A literal ``$`` is written ``$$``
(``bot.toml`` mentions ``$${VAR}``, which comes out as ``${VAR}``).
"""

from __future__ import annotations

from string import Template

# -- botrt init -----------------------------------------------------------------------

BOT_TOML = Template(
    """\
# The bot of this project. `botrt serve` runs it (it chats on this terminal);
# `botrt check` validates this file and the plugins without starting anything.
# Every key below shows its default; delete a key to keep the default.
# Any string may read an environment variable as $${VAR} ($$$$ writes a literal $$).

[bot]
$name_line
prefixes = ["/", "."]        # a command is a prefix + its name: "/hello", ".hello"
admins = []                  # user ids that are admins wherever they write
# error_reply = "..."        # to a user whose message failed; default: an apology
                             # in [bot] language; "" sends nothing
# unknown_command_reply = "..." # to "/nosuch" in a private chat; default: a hint to
                             # send /help; "" sends nothing
# flood = { messages = 10, seconds = 10 }  # per user; default: no limit

[plugins]
dirs = ["plugins"]           # plugin folders, searched in order, relative to this file
enabled = ["*"]              # plugin names, or "*" for every plugin found
disabled = []                # never loaded, even when `enabled` matches them
reload = true                # `botrt serve` reloads a plugin when its files change
builtin = true               # also load botrt's built-in plugins (help, ...);
                             # a plugin of the same name in `dirs` takes precedence

# A plugin's own settings go in a table named after it, handed to that plugin:
# [plugins.settings.hello]
# greeting = "Hello"

[storage]
url = "sqlite:///botrt.db"   # a SQLite file beside this one; or "postgresql://user:pw@host/db"

[console]
enabled = "auto"             # chat on the terminal: "auto" means when no [[bots]] entry exists
user_id = 1                  # the user id the console speaks as
role = "admin"               # "admin" or "member"

# A VK community bot: uncomment, then `export VK_TOKEN=...` before `botrt serve`.
# [[bots]]
# name = "main"              # unique name of this bot account
# platform = "vk"
# token = "$${VK_TOKEN}"      # community token, read from the environment
# group_id = 123456          # the community's id
# transport = "longpoll"     # or "callback" (then also path, secret, confirmation)
"""
)

# The `name = ...` line of [bot], padded so its comment lines up with the others.
BOT_NAME_COLUMN = 29
BOT_NAME_COMMENT = "# the bot's display name"

HELLO_PLUGIN = Template(
    '''\
"""hello: the example plugin. `/hello` greets you; `/hello NAME` greets NAME."""

from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import CommandArgs, on_command

# One PluginPlanner per plugin; the plugin's name is its folder's name.
HELLO = PluginPlanner(version="0.1.0")


@HELLO.use
@on_command("hello", aliases=["hi"], description="say hello", usage="hello [NAME]")
async def hello(event: TextEvent, args: CommandArgs) -> None:
    """Greet whoever is named after the command, or the world."""
    await event.reply(f"Hello, {args or 'world'}!")
'''
)

HELLO_TEST = Template(
    '''\
"""Tests of the hello plugin: a real host, an in-memory chat, no network."""

from pathlib import Path

import pytest
from botrt.testing import TestHost

# Found from this file, so the tests pass whatever folder pytest runs from.
PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "hello"


@pytest.mark.anyio
async def test_hello_greets_the_world() -> None:
    async with TestHost(plugins=[PLUGIN]) as host:
        assert await host.send("/hello") == ["Hello, world!"]


@pytest.mark.anyio
async def test_hello_greets_a_name() -> None:
    async with TestHost(plugins=[PLUGIN]) as host:
        assert await host.send("/hello Ann") == ["Hello, Ann!"]
        assert await host.send(".hi Bob") == ["Hello, Bob!"]


@pytest.mark.anyio
async def test_other_text_gets_no_reply() -> None:
    async with TestHost(plugins=[PLUGIN]) as host:
        assert await host.send("hello") == []
        # An unknown command: a private chat gets a hint ([bot] unknown_command_reply).
        assert await host.send("/hellothere") == [
            "Unknown command. Send /help to see the commands."
        ]
'''
)

CONFTEST = Template(
    '''\
"""pytest set-up shared by this project's tests."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run `@pytest.mark.anyio` tests on asyncio, the event loop botrt runs on."""
    return "asyncio"
'''
)

PYTEST_INI = Template(
    """\
# pytest's settings for this bot's tests (`python -m pytest`). Being here, this file
# also makes this folder pytest's root: the settings of a folder above it (a botrt
# clone this project sits in, say) never apply to these tests.
[pytest]
testpaths = tests
"""
)

README = Template(
    """\
# $title

A chat bot built on botrt. Its settings are in `bot.toml`; its plugins are the
folders of `plugins/` (start with `plugins/hello/__plugin__.py`); their tests are
in `tests/`.

## Run the bot

```sh
botrt serve
```

With no `[[bots]]` configured it chats on this terminal: type `/hello` or `/help`.
Edit a plugin while it runs and that plugin reloads. Ctrl-D or Ctrl-C stops it.

## Run the tests

```sh
python -m pytest tests -q
```

(pytest comes with `pip install pytest`.)

## More

- `botrt check` validates `bot.toml` and every plugin without connecting anywhere.
- `botrt new-plugin NAME` adds a plugin folder to `plugins/` and its test to `tests/`.
- `botrt plugins` lists the plugins; `botrt plugins disable NAME` turns one off.
- `botrt graph` prints the flows of every plugin as a Mermaid diagram.
"""
)

# -- botrt new-plugin ---------------------------------------------------------------

NEW_PLUGIN = Template(
    '''\
"""$name: one command to start from. `/$name TEXT` answers with TEXT."""

from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import CommandArgs, on_command
from botrt.i18n import N_

# With auto_import=True every other .py file under this folder, at any depth, would be
# imported on load as part of the plugin. That is why this plugin's tests live outside
# the folder, so turning auto_import on later never imports them: $test_path
PLUGIN = PluginPlanner(version="0.1.0", auto_import=False)
# Texts in _() are translated into [bot] language from locales/<language>/LC_MESSAGES/
# messages.po in this folder; a text a catalog lacks is shown as written here.
_ = PLUGIN.gettext


@PLUGIN.use
@on_command(
    "$name", description=N_("answer with the text given"), usage=N_("$name TEXT")
)
async def $func(event: TextEvent, args: CommandArgs) -> None:
    """Answer `/$name TEXT` with TEXT."""
    await event.reply(_("$name: {text}").format(text=args or _("ready")))
'''
)

NEW_PLUGIN_CATALOG = Template(
    r"""# Russian texts of the $name plugin: edit, save, and the running bot reloads the plugin.
# After adding texts to the code: pybabel extract -o locales/messages.pot .
# then: pybabel update -i locales/messages.pot -d locales   (both in the plugin folder)
msgid ""
msgstr ""
"Language: ru\n"
"Content-Type: text/plain; charset=utf-8\n"
"Plural-Forms: nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && "
"(n%100<10 || n%100>=20) ? 1 : 2);\n"

msgid "answer with the text given"
msgstr "ответить переданным текстом"

msgid "$name TEXT"
msgstr "$name ТЕКСТ"

#, python-brace-format
msgid "$name: {text}"
msgstr "$name: {text}"

msgid "ready"
msgstr "готово"
"""
)

NEW_PLUGIN_TEST = Template(
    '''\
"""Tests of the $name plugin: a real host, an in-memory chat, no network."""

from pathlib import Path

import pytest
from botrt.testing import TestHost

# Found from this file, so the tests pass whatever folder pytest runs from.
PLUGIN = $plugin_expr


@pytest.mark.anyio
async def test_${func}_answers_with_the_text() -> None:
    async with TestHost(plugins=[PLUGIN]) as host:
        assert await host.send("/$name hi there") == ["$name: hi there"]
        assert await host.send("/$name") == ["$name: ready"]


@pytest.mark.anyio
async def test_${func}_speaks_the_bots_language() -> None:
    async with TestHost(plugins=[PLUGIN], config={"bot": {"language": "ru"}}) as host:
        assert await host.send("/$name") == ["$name: готово"]


@pytest.mark.anyio
async def test_other_text_gets_no_reply() -> None:
    async with TestHost(plugins=[PLUGIN]) as host:
        assert await host.send("$name") == []
'''
)
