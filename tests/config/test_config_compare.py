"""`is_plugin_enabled` and `restart_needed` on loaded configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from botrt.config import LIVE_KEYS, BotConfig, is_plugin_enabled, parse_config, restart_needed

ENV = {"TZ": "UTC"}
VK = {"name": "g", "platform": "vk", "token": "t", "group_id": 1}


def config(tmp_path: Path, **sections: Any) -> BotConfig:
    return parse_config(sections, base_dir=tmp_path, environ=ENV)


@pytest.mark.parametrize(
    ("enabled", "disabled", "expected"),
    [
        (["*"], [], {"help": True, "attendance": True}),
        (["*"], ["help"], {"help": False, "attendance": True}),
        (["help"], [], {"help": True, "attendance": False}),
        (["help"], ["help"], {"help": False, "attendance": False}),
        ([], [], {"help": False, "attendance": False}),
        (["*"], ["*"], {"help": False, "attendance": False}),
    ],
)
def test_is_plugin_enabled(
    tmp_path: Path, enabled: list[str], disabled: list[str], expected: dict[str, bool]
) -> None:
    c = config(tmp_path, plugins={"enabled": enabled, "disabled": disabled})
    assert {name: is_plugin_enabled(c, name) for name in expected} == expected


def test_nothing_changed_needs_no_restart(tmp_path: Path) -> None:
    assert restart_needed(config(tmp_path), config(tmp_path)) == []


def test_live_changes_need_no_restart(tmp_path: Path) -> None:
    old = config(tmp_path)
    new = config(
        tmp_path,
        bot={"prefixes": ["!"], "admins": [5]},
        plugins={"enabled": ["help"], "disabled": ["x"], "settings": {"help": {"a": 1}}},
    )
    assert restart_needed(old, new) == []
    assert set(LIVE_KEYS) == {
        "plugins.settings",
        "plugins.enabled",
        "plugins.disabled",
        "bot.prefixes",
        "bot.admins",
    }


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ({"bots": [VK]}, ["bots"]),
        ({"storage": {"url": "sqlite:///other.db"}}, ["storage"]),
        ({"server": {"port": 1}}, ["server"]),
        ({"console": {"role": "member"}}, ["console"]),
        ({"bot": {"name": "x", "timezone": "Asia/Tokyo"}}, ["bot.name", "bot.timezone"]),
        (
            {"plugins": {"dirs": ["p"], "reload": False, "builtin": False}},
            ["plugins.dirs", "plugins.reload", "plugins.builtin"],
        ),
        (
            {"server": {"port": 1}, "bots": [VK], "console": {"enabled": True}},
            ["console", "server", "bots"],
        ),
    ],
)
def test_restart_needed_lists_what_changed(
    tmp_path: Path, sections: dict[str, Any], expected: list[str]
) -> None:
    assert restart_needed(config(tmp_path), config(tmp_path, **sections)) == expected


def test_a_changed_token_needs_a_restart(tmp_path: Path) -> None:
    old = config(tmp_path, bots=[VK])
    new = config(tmp_path, bots=[{**VK, "token": "other"}])
    assert restart_needed(old, new) == ["bots"]
