"""Every kind of bot.toml mistake is reported with its key path and an exact message."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

from botrt._errors import BotrtError
from botrt.config import ConfigError, load_config

ENV = {"TZ": "UTC"}
VK = 'name = "g"\nplatform = "vk"\ntoken = "t"\ngroup_id = 1\n'


def problems(tmp_path: Path, text: str) -> list[str]:
    """The lines of the ConfigError for `text`, with the file name stripped."""
    path = tmp_path / "bot.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=ENV)
    lines = str(info.value).splitlines()
    prefix = f"{path}: "
    assert all(line.startswith(prefix) for line in lines), lines
    return [line.removeprefix(prefix) for line in lines]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # wrong types
        ('[server]\nport = "8080"', 'server.port: expected an integer, got "8080" (a string)'),
        ("[server]\nport = true", "server.port: expected an integer, got true (a boolean)"),
        ("[server]\nport = 80.5", "server.port: expected an integer, got 80.5 (a float)"),
        ("[bot]\nname = 5", "bot.name: expected a string, got 5 (an integer)"),
        ('[bot]\nprefixes = "/"', 'bot.prefixes: expected an array of strings, got "/" (a string)'),
        ('[bot]\nprefixes = ["/", 1]', "bot.prefixes[1]: expected a string, got 1 (an integer)"),
        ('[bot]\nadmins = [1, "2"]', 'bot.admins[1]: expected an integer, got "2" (a string)'),
        ("[bot]\nadmins = [true]", "bot.admins[0]: expected an integer, got true (a boolean)"),
        ('[plugins]\nreload = "yes"', 'plugins.reload: expected a boolean, got "yes" (a string)'),
        ("[plugins]\nbuiltin = 1", "plugins.builtin: expected a boolean, got 1 (an integer)"),
        ('[plugins]\ndirs = [["a"]]', "plugins.dirs[0]: expected a string, got an array"),
        (
            '[plugins]\nenabled = "*"',
            'plugins.enabled: expected an array of plugin names, got "*" (a string)',
        ),
        ("[console]\nuser_id = 1.0", "console.user_id: expected an integer, got 1.0 (a float)"),
        ("bot = 1", "bot: expected a table, got 1 (an integer)"),
        ("[plugins]\nsettings = 3", "plugins.settings: expected a table, got 3 (an integer)"),
        (
            "[plugins.settings]\nattendance = [1]",
            "plugins.settings.attendance: expected a table, got an array",
        ),
        ("[storage]\nurl = 1979-05-27", "storage.url: expected a string, got 1979-05-27 (a date)"),
        # choices
        (
            f'[[bots]]\n{VK}transport = "poll"',
            'bots[0].transport: expected "longpoll" or "callback", got "poll"',
        ),
        (
            '[console]\nenabled = "yes"',
            'console.enabled: expected true, false or "auto", got "yes"',
        ),
        (
            "[console]\nenabled = 1",
            'console.enabled: expected true, false or "auto", got 1 (an integer)',
        ),
        ('[console]\nrole = "owner"', 'console.role: expected "admin" or "member", got "owner"'),
        (
            '[[bots]]\nname = "g"\nplatform = "tg"\ntoken = "t"\ngroup_id = 1',
            'bots[0].platform: expected "vk", got "tg"',
        ),
        # ranges and shapes
        ("[server]\nport = 70000", "server.port: expected an integer from 0 to 65535, got 70000"),
        ("[server]\nport = -1", "server.port: expected an integer from 0 to 65535, got -1"),
        ('[server]\nhost = ""', "server.host: must not be empty"),
        ("[bot]\nprefixes = []", "bot.prefixes: must list at least one prefix"),
        ('[bot]\nprefixes = [""]', "bot.prefixes[0]: must not be empty"),
        (
            '[bot]\ntimezone = "Mars/Olympus"',
            'bot.timezone: unknown time zone "Mars/Olympus" (expected an IANA name such as'
            ' "Europe/Moscow")',
        ),
        (
            '[[bots]]\nname = "g"\nplatform = "vk"\ntoken = "t"\ngroup_id = -5',
            "bots[0].group_id: expected a positive integer, got -5",
        ),
        (f"[[bots]]\n{VK}rate_limit = 0", "bots[0].rate_limit: expected a positive number, got 0"),
        (
            f'[[bots]]\n{VK}rate_limit = "fast"',
            'bots[0].rate_limit: expected a positive number, got "fast" (a string)',
        ),
        (
            f"[[bots]]\n{VK}rate_limit = inf",
            "bots[0].rate_limit: expected a positive number, got inf",
        ),
        (
            f'[[bots]]\n{VK}api_url = "ftp://x"',
            'bots[0].api_url: expected an http:// or https:// URL, got "ftp://x"',
        ),
        (
            f"[[bots]]\n{VK}api_version = 5.199",
            "bots[0].api_version: expected a string, got 5.199 (a float)",
        ),
        (
            f'[[bots]]\n{VK}transport = "callback"\npath = "vk"\nsecret = "s"\nconfirmation = "c"',
            'bots[0].path: must start with "/", got "vk"',
        ),
        # secrets never appear in messages
        (
            '[[bots]]\nname = "g"\nplatform = "vk"\ntoken = 123456789\ngroup_id = 1',
            "bots[0].token: expected a string, got an integer",
        ),
        # storage URLs
        (
            '[storage]\nurl = "mysql://db/bot"',
            'storage.url: unsupported database scheme "mysql"; botrt supports "sqlite",'
            ' "postgresql", "postgresql+asyncpg"',
        ),
        (
            '[storage]\nurl = "postgres://db/bot"',
            'storage.url: unsupported database scheme "postgres" (did you mean "postgresql"?);'
            ' botrt supports "sqlite", "postgresql", "postgresql+asyncpg"',
        ),
        (
            '[storage]\nurl = "bot.db"',
            'storage.url: expected a database URL such as "sqlite:///botrt.db", got "bot.db"',
        ),
        (
            '[storage]\nurl = "sqlite://bot.db"',
            'storage.url: a SQLite URL has no host: write "sqlite:///bot.db" for a file,'
            ' got "sqlite://bot.db"',
        ),
        (
            '[storage]\nurl = "sqlite:///"',
            'storage.url: expected a SQLite file name after "sqlite:///", got "sqlite:///"',
        ),
        # bots as a table instead of an array of tables
        (
            f"[bots]\n{VK}",
            "bots: expected an array of tables, got a table (write [[bots]] above each bot's"
            " table)",
        ),
        ("bots = [1]", "bots[0]: expected a table, got 1 (an integer)"),
    ],
)
def test_one_mistake_one_exact_message(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(tmp_path, text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[bot]\nprefix = ["!"]', 'bot.prefix: unknown key (did you mean "prefixes"?)'),
        ("[server]\nprot = 1", 'server.prot: unknown key (did you mean "port"?)'),
        ("[plugins]\ndisable = []", 'plugins.disable: unknown key (did you mean "disabled"?)'),
        ('[bot]\ncolour = "red"', "bot.colour: unknown key"),
        ("[botx]\na = 1", 'botx: unknown key (did you mean "bot"?)'),
        (f'[[bots]]\n{VK}tokn = "x"', 'bots[0].tokn: unknown key (did you mean "token"?)'),
        ('[storage]\n"my key" = 1', 'storage."my key": unknown key'),
    ],
)
def test_unknown_keys_suggest_the_closest_known_one(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert problems(tmp_path, text) == [expected]


def test_plugin_settings_take_any_keys(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('[plugins.settings.x]\nanything = 1\n"odd key" = {nested = [1, "a"]}\n')
    config = load_config(path, environ=ENV)
    assert config.plugins.settings == {"x": {"anything": 1, "odd key": {"nested": [1, "a"]}}}


def test_required_bot_keys(tmp_path: Path) -> None:
    assert problems(tmp_path, "[[bots]]\n") == [
        "bots[0].name: missing required key",
        "bots[0].platform: missing required key",
        "bots[0].token: missing required key",
        "bots[0].group_id: missing required key",
    ]


def test_callback_keys_are_required_for_the_callback_transport(tmp_path: Path) -> None:
    note = ' (required when transport is "callback")'
    assert problems(tmp_path, f'[[bots]]\n{VK}transport = "callback"\n') == [
        f"bots[0].path: missing required key{note}",
        f"bots[0].secret: missing required key{note}",
        f"bots[0].confirmation: missing required key{note}",
    ]


def test_bot_names_and_callback_paths_are_unique(tmp_path: Path) -> None:
    hook = 'transport = "callback"\npath = "/vk"\nsecret = "s"\nconfirmation = "c"\n'
    other = VK.replace('"g"', '"h"')
    text = f"[[bots]]\n{VK}{hook}[[bots]]\n{VK}{hook}[[bots]]\n{other}"
    assert problems(tmp_path, text) == [
        'bots[1].name: "g" is already used by bots[0]',
        'bots[1].path: "/vk" is already used by bots[0]',
    ]


def test_every_problem_is_reported_at_once_in_file_order(tmp_path: Path) -> None:
    text = """\
    [server]
    port = true
    [bot]
    prefix = "!"
    name = ""
    [[bots]]
    name = "g"
    platform = "vk"
    token = "${MISSING_TOKEN}"
    group_id = "1"
    transport = "poll"
    """
    assert problems(tmp_path, text) == [
        "server.port: expected an integer, got true (a boolean)",
        'bot.prefix: unknown key (did you mean "prefixes"?)',
        "bot.name: must not be empty",
        "bots[0].token: environment variable MISSING_TOKEN is not set",
        'bots[0].group_id: expected an integer, got "1" (a string)',
        'bots[0].transport: expected "longpoll" or "callback", got "poll"',
    ]


def test_a_toml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('[bot]\nname = "x"\nprefixes = [/]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=ENV)
    assert str(info.value) == (
        f"{path}:3:13: Invalid value\n"
        "    prefixes = [/]\n"
        "                ^\n"
        'hint: text needs quotes, as in name = "hello"'
    )
    (issue,) = info.value.issues
    assert (issue.message, issue.line, issue.column) == ("Invalid value", 3, 13)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("admins = True\n", "hint: a boolean is written true or false, in lowercase"),
        ('name "x"\n', "hint: each line is key = value; a key with spaces needs quotes"),
        ('name = "abc\n', "hint: a string ends on its own line with its quote"),
        ("[bot]\n[bot]\n", "hint: a key or a [table] is written twice; keep one"),
        ("port = 80 80\n", "hint: one key = value per line"),
        ("[bot\n", "hint: a table name ends with ], as in [bot]"),
        ("admins = [1,\n", "hint: a [ or { is not closed"),
    ],
)
def test_a_syntax_error_comes_with_a_hint(tmp_path: Path, text: str, hint: str) -> None:
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=ENV)
    (issue,) = info.value.issues
    assert issue.line is not None
    assert issue.detail.splitlines()[-1].startswith(hint)
    assert str(info.value).startswith(f"{path}:{issue.line}:{issue.column}: {issue.message}\n")


def test_the_offending_line_is_shown_with_a_caret_under_the_column(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('[bot]\nname = "x"\n\tadmins = [one]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=ENV)
    lines = str(info.value).splitlines()
    assert lines[1:3] == ["     admins = [one]", "               ^"]
    assert lines[2].index("^") - 4 == info.value.issues[0].column - 1


def test_a_syntax_error_at_the_end_points_at_the_last_line(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text('[bot]\nprefixes = ["/"', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=ENV)
    (issue,) = info.value.issues
    assert (issue.line, issue.column) == (2, 16)
    assert str(info.value).startswith(f"{path}:2:16: ")


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_bytes(b'[bot]\nname = "\xff"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=ENV)
    assert str(info.value) == f"{path}:2: not valid UTF-8 (byte 0xff)"


def test_a_folder_instead_of_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ=ENV)
    assert str(info.value) == f"{tmp_path}: is a folder, not a file"


def test_the_error_is_a_botrt_error_and_survives_pickling(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_text("[server]\nport = true\n")
    with pytest.raises(BotrtError) as info:
        load_config(path, environ=ENV)
    error = info.value
    assert isinstance(error, ConfigError)
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert copy.issues == error.issues
