"""${VAR} expansion in every string value, its escape, its errors, and hidden secrets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from botrt.config import ConfigError, load_config

BOT = """\
[[bots]]
name = "g"
platform = "vk"
token = "${VK_TOKEN}"
group_id = 1
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_variables_are_expanded_everywhere(tmp_path: Path) -> None:
    text = """
    [bot]
    name = "${NAME}-bot"
    prefixes = ["${P}", "."]
    [plugins]
    dirs = ["${HOME_DIR}/plugins"]
    [plugins.settings.attendance]
    lessons = ["${L1}", "physics"]
    teacher = { name = "${TEACHER}" }
    [storage]
    url = "${DB_URL}"
    """
    env = {
        "NAME": "demo",
        "P": "!",
        "HOME_DIR": "/srv/bot",
        "L1": "math",
        "TEACHER": "Ada",
        "DB_URL": "postgresql://db/bot",
        "TZ": "UTC",
    }
    config = load_config(write(tmp_path, text), environ=env)
    assert config.bot.name == "demo-bot"
    assert config.bot.prefixes == ("!", ".")
    assert config.plugins.dirs == (Path("/srv/bot/plugins"),)
    assert config.plugins.settings["attendance"] == {
        "lessons": ["math", "physics"],
        "teacher": {"name": "Ada"},
    }
    assert config.storage.url == "postgresql://db/bot"


def test_expansion_reads_os_environ_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VK_TOKEN", "from-os")
    (bot,) = load_config(write(tmp_path, BOT)).bots
    assert bot.token == "from-os"


def test_a_missing_variable_names_the_key_and_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, BOT)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"TZ": "UTC"})
    assert str(info.value) == f"{path}: bots[0].token: environment variable VK_TOKEN is not set"


def test_missing_variables_in_lists_and_settings_are_each_reported(tmp_path: Path) -> None:
    text = """
    [bot]
    prefixes = ["${A}${B}"]
    [plugins.settings.x]
    deep = { list = ["ok", "${C}"] }
    """
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"TZ": "UTC"})
    assert [issue.render(None) for issue in info.value.issues] == [
        "bot.prefixes[0]: environment variable A is not set",
        "bot.prefixes[0]: environment variable B is not set",
        "plugins.settings.x.deep.list[1]: environment variable C is not set",
    ]


def test_a_failed_expansion_is_not_reported_twice(tmp_path: Path) -> None:
    # The unexpanded "${DB}" is no database URL, but saying so would only add noise.
    path = write(tmp_path, '[storage]\nurl = "${DB}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"TZ": "UTC"})
    assert str(info.value) == f"{path}: storage.url: environment variable DB is not set"


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("$${VK_TOKEN}", "${VK_TOKEN}"),
        ("a$$b", "a$b"),
        ("costs $5", "costs $5"),
        ("$", "$"),
        ("${VK_TOKEN}$${X}", "tok${X}"),
        ("${VK_TOKEN}${VK_TOKEN}", "toktok"),
    ],
)
def test_dollar_dollar_is_a_literal_dollar(tmp_path: Path, written: str, value: str) -> None:
    path = write(tmp_path, f'[bot]\nname = "{written}"\n')
    config = load_config(path, environ={"VK_TOKEN": "tok", "TZ": "UTC"})
    assert config.bot.name == value


def test_expanded_values_are_not_expanded_again(tmp_path: Path) -> None:
    path = write(tmp_path, '[bot]\nname = "${A}"\n')
    assert load_config(path, environ={"A": "${B}", "TZ": "UTC"}).bot.name == "${B}"


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("${VK", 'unterminated "${" (write "$$" for a literal "$")'),
        ("${}", 'invalid variable name in "${}"'),
        ("${1X}", 'invalid variable name in "${1X}"'),
        ("${A-B}", 'invalid variable name in "${A-B}"'),
    ],
)
def test_malformed_references(tmp_path: Path, written: str, message: str) -> None:
    path = write(tmp_path, f'[bot]\nname = "{written}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"TZ": "UTC"})
    assert str(info.value) == f"{path}: bot.name: {message}"


def test_keys_are_not_expanded(tmp_path: Path) -> None:
    path = write(tmp_path, '[plugins.settings."${X}"]\na = 1\n')
    config = load_config(path, environ={"X": "y", "TZ": "UTC"})
    assert config.plugins.settings == {"${X}": {"a": 1}}


def test_repr_of_a_bot_hides_its_secrets(tmp_path: Path) -> None:
    text = BOT + 'transport = "callback"\npath = "/vk"\nsecret = "${S}"\nconfirmation = "${C}"\n'
    env = {"VK_TOKEN": "tok-123", "S": "sec-456", "C": "conf-789", "TZ": "UTC"}
    config = load_config(write(tmp_path, text), environ=env)
    (bot,) = config.bots
    for shown in (repr(bot), str(bot), repr(config)):
        assert "tok-123" not in shown
        assert "sec-456" not in shown
        assert "conf-789" not in shown
    assert "token='***'" in repr(bot)
    assert "secret='***'" in repr(bot)
    assert "confirmation='***'" in repr(bot)
    assert "name='g'" in repr(bot)
    assert bot.token == "tok-123"
