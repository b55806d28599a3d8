"""Loading bot.toml: defaults, the repository's own file, paths, URLs and sections."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from botrt.config import BotConfig, ConfigError, default_config, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]
ENV = {"TZ": "Europe/Berlin"}

SPEC_EXAMPLE = """\
[bot]
name = "botrt"
prefixes = ["/", "."]        # a command is a prefix + its name: "/help", ".h"
admins = []                  # user ids that are admins wherever they write

[plugins]
dirs = ["plugins"]           # searched in order, relative to bot.toml
enabled = ["*"]              # plugin names, or "*" for every plugin found
disabled = []
reload = true                # watch the plugin folders and reload what changes
builtin = true               # also load the built-in plugins shipped with botrt

[plugins.settings.attendance] # a plugin's own settings, handed to that plugin
lessons = ["math", "physics"]

[storage]
url = "sqlite:///botrt.db"   # relative to bot.toml; or "postgresql://user:pw@host/db"

[console]
enabled = "auto"             # "auto": on when no [[bots]] entry is configured
user_id = 1
role = "admin"               # "admin" or "member"

[server]
host = "127.0.0.1"
port = 8080

[[bots]]
name = "group1"
platform = "vk"
token = "${VK_TOKEN}"
group_id = 123456
transport = "longpoll"
api_url = "https://api.vk.com/method"
api_version = "5.199"
rate_limit = 20
path = "/vk/group1"
secret = "${VK_SECRET}"
confirmation = "${VK_CONFIRMATION}"
"""


def write(tmp_path: Path, text: str, name: str = "bot.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_an_empty_file_gives_every_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), environ=ENV)
    assert config.path == tmp_path / "bot.toml"
    assert config.base_dir == tmp_path
    assert config.bot.name == "botrt"
    assert config.bot.prefixes == ("/", ".")
    assert config.bot.admins == ()
    assert config.bot.timezone == "Europe/Berlin"
    assert config.plugins.dirs == (tmp_path / "plugins",)
    assert config.plugins.enabled == ("*",)
    assert config.plugins.disabled == ()
    assert config.plugins.reload is True
    assert config.plugins.builtin is True
    assert config.plugins.settings == {}
    assert config.storage.url == "sqlite:///botrt.db"
    assert config.storage.resolved_url == f"sqlite:///{tmp_path}/botrt.db"
    assert config.storage.resolved_url.startswith("sqlite:////")
    assert config.storage.dialect == "sqlite"
    assert config.storage.database == tmp_path / "botrt.db"
    assert config.console.enabled == "auto"
    assert config.console.user_id == 1
    assert config.console.role == "admin"
    assert config.server.host == "127.0.0.1"
    assert config.server.port == 8080
    assert config.bots == ()
    assert config.console_active is True


def test_default_config_equals_an_empty_file(tmp_path: Path) -> None:
    from_file = load_config(write(tmp_path, ""), environ=ENV)
    defaults = default_config(tmp_path, environ=ENV)
    assert defaults.path is None
    assert defaults.bot == from_file.bot
    assert defaults.plugins == from_file.plugins
    assert defaults.storage == from_file.storage


def test_the_repository_bot_toml_loads_as_the_console_bot() -> None:
    config = load_config(ROOT / "bot.toml", environ=ENV)
    assert config.bots == ()
    assert config.console_active is True
    assert config.storage.url == "sqlite:///botrt.db"
    assert config.storage.database == ROOT / "botrt.db"
    assert config.plugins.dirs == (ROOT / "plugins",)
    assert config.plugins.builtin is True
    assert config.plugins.reload is True
    assert config.plugins.enabled == ("*",)


def test_the_spec_example_loads(tmp_path: Path) -> None:
    env = {"VK_TOKEN": "tok", "VK_SECRET": "sec", "VK_CONFIRMATION": "conf", "TZ": "UTC"}
    config = load_config(write(tmp_path, SPEC_EXAMPLE), environ=env)
    (bot,) = config.bots
    assert (bot.name, bot.platform, bot.token, bot.group_id) == ("group1", "vk", "tok", 123456)
    assert (bot.transport, bot.api_url, bot.api_version, bot.rate_limit) == (
        "longpoll",
        "https://api.vk.com/method",
        "5.199",
        20,
    )
    assert (bot.path, bot.secret, bot.confirmation) == ("/vk/group1", "sec", "conf")
    assert config.plugins.settings == {"attendance": {"lessons": ["math", "physics"]}}
    assert config.plugins.settings_for("attendance") == {"lessons": ["math", "physics"]}
    assert config.plugins.settings_for("help") == {}
    assert config.console_active is False


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "bot.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path, environ=ENV)
    assert str(info.value) == f"{path}: no such file"
    assert info.value.path == path


def test_missing_ok_gives_defaults_relative_to_the_files_folder(tmp_path: Path) -> None:
    config = load_config(tmp_path / "bot.toml", environ=ENV, missing_ok=True)
    assert config.path == tmp_path / "bot.toml"
    assert config.plugins.dirs == (tmp_path / "plugins",)
    assert config.storage.database == tmp_path / "botrt.db"


def test_relative_paths_are_taken_from_the_folder_of_bot_toml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [plugins]
        dirs = ["plugins", "../shared/plugins", "/opt/bot/plugins"]
        [storage]
        url = "sqlite:///data/bot.db"
        """,
        name="deploy/bot.toml",
    )
    config = load_config(path, environ=ENV)
    assert config.plugins.dirs == (
        tmp_path / "deploy" / "plugins",
        tmp_path / "shared" / "plugins",
        Path("/opt/bot/plugins"),
    )
    assert config.storage.url == "sqlite:///data/bot.db"
    assert config.storage.resolved_url == f"sqlite:///{tmp_path}/deploy/data/bot.db"
    assert config.storage.database == tmp_path / "deploy" / "data" / "bot.db"


def test_a_relative_config_path_still_gives_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "")
    monkeypatch.chdir(tmp_path)
    config = load_config("bot.toml", environ=ENV)
    assert config.path == tmp_path / "bot.toml"
    assert config.plugins.dirs == (tmp_path / "plugins",)


@pytest.mark.parametrize(
    ("url", "resolved", "dialect", "database"),
    [
        ("sqlite:////var/lib/bot.db", "sqlite:////var/lib/bot.db", "sqlite", "/var/lib/bot.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:", "sqlite", None),
        ("sqlite://", "sqlite://", "sqlite", None),
        ("postgresql://u:pw@db/bot", "postgresql://u:pw@db/bot", "postgresql", None),
        ("postgresql+asyncpg://db/bot", "postgresql+asyncpg://db/bot", "postgresql", None),
    ],
)
def test_storage_urls(
    tmp_path: Path, url: str, resolved: str, dialect: str, database: str | None
) -> None:
    config = load_config(write(tmp_path, f'[storage]\nurl = "{url}"\n'), environ=ENV)
    assert config.storage.url == url
    assert config.storage.resolved_url == resolved
    assert config.storage.dialect == dialect
    assert config.storage.database == (None if database is None else Path(database))


def test_sqlite_options_after_the_path_are_kept(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, '[storage]\nurl = "sqlite:///b.db?timeout=5"\n'), environ=ENV
    )
    assert config.storage.resolved_url == f"sqlite:///{tmp_path}/b.db?timeout=5"
    assert config.storage.database == tmp_path / "b.db"


def test_storage_repr_hides_the_database_password(tmp_path: Path) -> None:
    text = '[storage]\nurl = "postgresql://bot:hunter2@db/bot"\n'
    config = load_config(write(tmp_path, text), environ=ENV)
    assert "hunter2" not in repr(config)
    assert "postgresql://bot:***@db/bot" in repr(config.storage)


@pytest.mark.parametrize(
    ("enabled", "bots", "active"),
    [("true", False, True), ("true", True, True), ("false", False, False), ('"auto"', True, False)],
)
def test_console_active(tmp_path: Path, enabled: str, bots: bool, active: bool) -> None:
    text = f"[console]\nenabled = {enabled}\n"
    if bots:
        text += '[[bots]]\nname = "g"\nplatform = "vk"\ntoken = "t"\ngroup_id = 1\n'
    assert load_config(write(tmp_path, text), environ=ENV).console_active is active


def test_timezone_is_validated_and_usable(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[bot]\ntimezone = "Asia/Tokyo"\n'), environ=ENV)
    assert config.bot.timezone == "Asia/Tokyo"
    assert str(config.bot.tzinfo) == "Asia/Tokyo"


def test_timezone_default_ignores_a_tz_that_is_not_a_zone_name(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), environ={"TZ": "Not/AZone"})
    assert config.bot.timezone != "Not/AZone"
    assert config.bot.tzinfo is not None


def test_a_callback_bot(tmp_path: Path) -> None:
    text = """
    [[bots]]
    name = "hook"
    platform = "vk"
    token = "t"
    group_id = 7
    transport = "callback"
    path = "/vk/hook"
    secret = "s"
    confirmation = "c"
    rate_limit = 2.5
    """
    (bot,) = load_config(write(tmp_path, text), environ=ENV).bots
    assert (bot.transport, bot.path, bot.secret, bot.confirmation) == (
        "callback",
        "/vk/hook",
        "s",
        "c",
    )
    assert bot.rate_limit == 2.5


def test_a_longpoll_bot_gets_the_documented_defaults(tmp_path: Path) -> None:
    text = '[[bots]]\nname = "g"\nplatform = "vk"\ntoken = "t"\ngroup_id = 1\n'
    (bot,) = load_config(write(tmp_path, text), environ=ENV).bots
    assert bot.transport == "longpoll"
    assert bot.api_url == "https://api.vk.com/method"
    assert bot.api_version == "5.199"
    assert bot.rate_limit == 20
    assert (bot.path, bot.secret, bot.confirmation) == (None, None, None)


def test_parse_config_validates_a_mapping(tmp_path: Path) -> None:
    config = parse_config({"server": {"port": 9000}}, base_dir=tmp_path, environ=ENV)
    assert isinstance(config, BotConfig)
    assert config.server.port == 9000
    assert config.path is None
    with pytest.raises(ConfigError) as info:
        parse_config({"server": {"port": "x"}}, base_dir=tmp_path, environ=ENV)
    assert str(info.value) == 'server.port: expected an integer, got "x" (a string)'


def test_configs_are_frozen(tmp_path: Path) -> None:
    config = default_config(tmp_path, environ=ENV)
    with pytest.raises(AttributeError):
        config.server.port = 1  # type: ignore[misc]


def test_conversations_section_defaults_and_values(tmp_path: Path) -> None:
    default = default_config(tmp_path, environ=ENV).conversations
    assert (default.timeout, default.cancel, default.state_ttl) == (300, ("/cancel",), 86400)
    config = parse_config(
        {"conversations": {"timeout": 30, "cancel": ["/cancel", "отмена"], "state_ttl": 3600}},
        base_dir=tmp_path,
        environ=ENV,
    )
    assert config.conversations.timeout == 30
    assert config.conversations.cancel == ("/cancel", "отмена")
    assert config.conversations.state_ttl == 3600


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"timeout": 0}, "conversations.timeout: expected a positive number, got 0"),
        ({"cancel": "/cancel"}, "conversations.cancel: expected an array of strings"),
        ({"cancel": [""]}, "conversations.cancel[0]:"),
        ({"state_ttl": "1d"}, "conversations.state_ttl: expected a positive number"),
        ({"timout": 5}, "conversations.timout"),
    ],
)
def test_conversations_section_errors_name_the_key(
    tmp_path: Path, section: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"conversations": section}, base_dir=tmp_path, environ=ENV)
    assert message in str(info.value)
