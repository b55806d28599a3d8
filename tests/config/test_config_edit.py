"""`botrt plugins enable|disable`: bot.toml rewritten, every other setting kept."""

from __future__ import annotations

import os
import shutil
import stat
import textwrap
import tomllib
from pathlib import Path

import pytest

from botrt.config import ConfigError, is_plugin_enabled, load_config, set_plugin_enabled

ROOT = Path(__file__).resolve().parents[2]
ENV = {"TZ": "UTC", "VK_TOKEN": "t", "VK_SECRET": "s", "VK_CONFIRMATION": "c"}

FULL = """\
# my bot
[bot]
name = "demo"
prefixes = ["/"]
admins = [42]
timezone = "Europe/Moscow"

[plugins]
dirs = ["plugins", "more"]   # searched in order
enabled = ["*"]              # everything found
disabled = ["broadcast"]     # not this one
reload = false

[plugins.settings.attendance]
lessons = ["math", "physics"]
start = 2026-09-01
nested = { deep = [1, 2.5, true] }

[storage]
url = "${DB_URL}"

[server]
port = 9000

[[bots]]
name = "group1"
platform = "vk"
token = "${VK_TOKEN}"
group_id = 123456
transport = "callback"
path = "/vk/group1"
secret = "${VK_SECRET}"
confirmation = "$${literal}"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def plugins_of(path: Path) -> dict[str, object]:
    return tomllib.loads(path.read_text(encoding="utf-8")).get("plugins", {})


def without_plugin_lists(path: Path) -> dict[str, object]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data.get("plugins", {}).pop("enabled", None)
    data.get("plugins", {}).pop("disabled", None)
    return data


def test_disable_then_enable_round_trips_every_other_setting(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    before = without_plugin_lists(path)
    set_plugin_enabled(path, "help", False)
    assert plugins_of(path)["disabled"] == ["broadcast", "help"]
    assert without_plugin_lists(path) == before
    set_plugin_enabled(path, "broadcast", True)
    set_plugin_enabled(path, "help", True)
    assert plugins_of(path)["disabled"] == []
    assert plugins_of(path)["enabled"] == ["*"]
    assert without_plugin_lists(path) == before
    # ${VAR} strings are written back as they were, not expanded.
    assert '"${VK_TOKEN}"' in path.read_text()
    assert '"$${literal}"' in path.read_text()


def test_comments_and_layout_survive_an_edit(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    set_plugin_enabled(path, "help", False)
    assert path.read_text() == FULL.replace(
        'disabled = ["broadcast"]     # not this one',
        'disabled = ["broadcast", "help"] # not this one',
    )


def test_the_repository_bot_toml_keeps_its_comments(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    shutil.copy(ROOT / "bot.toml", path)
    original = path.read_text()
    set_plugin_enabled(path, "attendance", False)
    edited = path.read_text()
    lines = zip(original.splitlines(), edited.splitlines(), strict=True)
    changed = [(a, b) for a, b in lines if a != b]
    assert changed == [
        (
            "disabled = []                # never loaded, even when `enabled` matches them",
            'disabled = ["attendance"]    # never loaded, even when `enabled` matches them',
        )
    ]
    assert not is_plugin_enabled(load_config(path, environ=ENV), "attendance")
    set_plugin_enabled(path, "attendance", True)
    assert path.read_text() == original


def test_an_explicit_enabled_list_gains_and_loses_the_name(tmp_path: Path) -> None:
    path = write(tmp_path, '[plugins]\nenabled = [\n    "help",\n    "attendance",\n]\n')
    set_plugin_enabled(path, "broadcast", True)
    assert plugins_of(path) == {"enabled": ["help", "attendance", "broadcast"]}
    set_plugin_enabled(path, "help", False)
    assert plugins_of(path) == {"enabled": ["attendance", "broadcast"], "disabled": ["help"]}
    config = load_config(path, environ=ENV)
    assert [is_plugin_enabled(config, n) for n in ("help", "attendance", "broadcast", "x")] == [
        False,
        True,
        True,
        False,
    ]


def test_a_missing_plugins_table_is_added(tmp_path: Path) -> None:
    path = write(tmp_path, '[bot]\nname = "x"  # keep me')
    set_plugin_enabled(path, "help", False)
    assert path.read_text() == '[bot]\nname = "x"  # keep me\n\n[plugins]\ndisabled = ["help"]\n'
    assert not is_plugin_enabled(load_config(path, environ=ENV), "help")


def test_a_missing_key_goes_after_its_neighbour(tmp_path: Path) -> None:
    path = write(tmp_path, '[plugins]\ndirs = ["p"]\nenabled = ["*"]\nreload = true\n')
    set_plugin_enabled(path, "help", False)
    assert path.read_text() == (
        '[plugins]\ndirs = ["p"]\nenabled = ["*"]\ndisabled = ["help"]\nreload = true\n'
    )


def test_dotted_keys_fall_back_to_a_full_rewrite_that_keeps_values(tmp_path: Path) -> None:
    path = write(tmp_path, 'plugins.reload = false\nbot.name = "x"\n')
    set_plugin_enabled(path, "help", False)
    assert tomllib.loads(path.read_text()) == {
        "plugins": {"reload": False, "disabled": ["help"]},
        "bot": {"name": "x"},
    }


def test_a_file_that_already_agrees_is_not_rewritten(tmp_path: Path) -> None:
    path = write(tmp_path, "[plugins]\ndisabled = [ 'help' ]\n")
    os.utime(path, (0, 0))
    set_plugin_enabled(path, "help", False)
    set_plugin_enabled(path, "other", True)
    assert path.stat().st_mtime == 0
    assert path.read_text() == "[plugins]\ndisabled = [ 'help' ]\n"


def test_the_write_is_atomic_and_keeps_permissions(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    path.chmod(0o600)
    inode = path.stat().st_ino
    set_plugin_enabled(path, "help", False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_ino != inode  # replaced, not rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bot.toml"]  # no temp file left


def test_a_symlinked_bot_toml_stays_a_symlink(tmp_path: Path) -> None:
    real = write(tmp_path, "")
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    set_plugin_enabled(link, "help", False)
    assert link.is_symlink()
    assert plugins_of(real) == {"disabled": ["help"]}


def test_enable_is_refused_while_disabled_holds_the_wildcard(tmp_path: Path) -> None:
    path = write(tmp_path, '[plugins]\ndisabled = ["*"]\n')
    with pytest.raises(ConfigError) as info:
        set_plugin_enabled(path, "help", True)
    assert str(info.value) == (
        f'{path}: plugins.disabled: "*" disables every plugin, so "help" cannot be on'
    )


def test_a_plugin_list_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[plugins]\nenabled = "*"\n')
    with pytest.raises(ConfigError) as info:
        set_plugin_enabled(path, "help", False)
    assert str(info.value) == (
        f'{path}: plugins.enabled: expected an array of plugin names, got "*" (a string)'
    )


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        set_plugin_enabled(tmp_path / "bot.toml", "help", False)
    assert str(info.value) == f"{tmp_path / 'bot.toml'}: no such file"


@pytest.mark.parametrize("name", ["", "*"])
def test_a_name_is_required(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="expected a plugin name"):
        set_plugin_enabled(write(tmp_path, ""), name, False)


def test_windows_line_endings_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "bot.toml"
    path.write_bytes(b'[plugins]\r\nenabled = ["*"]\r\n')
    set_plugin_enabled(path, "help", False)
    assert path.read_bytes() == b'[plugins]\r\nenabled = ["*"]\r\ndisabled = ["help"]\r\n'


def test_an_empty_file_gets_a_plugins_table(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    set_plugin_enabled(path, "help", False)
    assert path.read_text() == '[plugins]\ndisabled = ["help"]\n'


def test_a_long_list_is_spread_over_lines_with_the_files_line_endings(tmp_path: Path) -> None:
    names = [f"plugin_number_{i}" for i in range(6)]
    path = tmp_path / "bot.toml"
    path.write_bytes(b"[plugins]\r\nenabled = []  # mine\r\n")
    for name in names:
        set_plugin_enabled(path, name, True)
    raw = path.read_bytes()
    assert raw.startswith(b'[plugins]\r\nenabled = [  # mine\r\n    "plugin_number_0",\r\n')
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert tomllib.loads(raw.decode()) == {"plugins": {"enabled": names}}
    set_plugin_enabled(path, names[0], False)  # a multi-line array is edited in place too
    assert path.read_bytes().startswith(
        b'[plugins]\r\nenabled = [  # mine\r\n    "plugin_number_1",'
    )
    assert tomllib.loads(path.read_bytes().decode()) == {
        "plugins": {"enabled": names[1:], "disabled": names[:1]}
    }
