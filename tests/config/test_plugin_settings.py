"""A plugin's declared settings: each type, required and unknown keys, the plugin's own checks."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from botrt import PluginPlanner
from botrt.config._plugin_settings import SettingsSchemaError, check_plugin_settings


@dataclass(frozen=True)
class Every:
    name: str = "x"
    count: int = 1
    ratio: float = 1.0
    on: bool = True
    mode: Literal["a", "b"] = "a"
    tags: list[str] = field(default_factory=list)
    ids: tuple[int, ...] = ()
    limits: dict[str, int] = field(default_factory=dict)
    folder: Path | None = None
    day: datetime.date | None = None
    extra: Any = None


def messages(raw: dict[str, Any], schema: type = Every) -> list[str]:
    _, issues = check_plugin_settings("p", schema, raw)
    return [f"{i.path}: {i.message}" for i in issues]


def test_valid_values_build_the_dataclass() -> None:
    raw = {
        "name": "n",
        "count": 2,
        "ratio": 3,
        "on": False,
        "mode": "b",
        "tags": ["t"],
        "ids": [1, 2],
        "limits": {"a": 1},
        "folder": "~/x",
        "day": datetime.date(2026, 9, 1),
        "extra": [1, "mixed"],
    }
    settings, issues = check_plugin_settings("p", Every, raw)
    assert issues == []
    assert settings == Every(
        "n", 2, 3.0, False, "b", ["t"], (1, 2), {"a": 1}, Path("~/x").expanduser(),
        datetime.date(2026, 9, 1), [1, "mixed"],
    )  # fmt: skip


def test_nothing_written_gives_the_defaults() -> None:
    assert check_plugin_settings("p", Every, {}) == (Every(), [])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"name": 1}, "name: expected a string, got 1 (an integer)"),
        ({"count": True}, "count: expected an integer, got true (a boolean)"),
        ({"count": 1.5}, "count: expected an integer, got 1.5 (a float)"),
        ({"ratio": "1"}, 'ratio: expected a number, got "1" (a string)'),
        ({"on": 1}, "on: expected a boolean, got 1 (an integer)"),
        ({"mode": "c"}, 'mode: expected "a" or "b", got "c"'),
        ({"tags": "t"}, 'tags: expected an array of strings, got "t" (a string)'),
        ({"tags": ["a", 2]}, "tags[1]: expected a string, got 2 (an integer)"),
        ({"ids": [1, "2"]}, 'ids[1]: expected an integer, got "2" (a string)'),
        ({"limits": {"a": "1"}}, 'limits.a: expected an integer, got "1" (a string)'),
        ({"limits": 3}, "limits: expected a table, got 3 (an integer)"),
        ({"folder": ""}, "folder: must not be empty"),
        ({"day": "2026-09-01"}, 'day: expected a date, got "2026-09-01" (a string)'),
        ({"coutn": 1}, 'coutn: unknown key (did you mean "count"?)'),
    ],
)
def test_a_wrong_value_is_reported_at_its_key(raw: dict[str, Any], expected: str) -> None:
    assert messages(raw) == ["plugins.settings.p." + expected]


def test_every_problem_is_reported_and_nothing_is_built() -> None:
    settings, issues = check_plugin_settings("p", Every, {"name": 1, "count": "2", "x": 0})
    assert settings is None
    assert [i.path for i in issues] == [
        "plugins.settings.p.name",
        "plugins.settings.p.count",
        "plugins.settings.p.x",
    ]


@dataclass(frozen=True)
class Required:
    token: str
    retries: int = 3

    def __post_init__(self) -> None:
        if self.retries > 10:
            raise ValueError("retries must be at most 10")


def test_a_field_without_default_is_a_required_key() -> None:
    assert messages({}, Required) == ["plugins.settings.p.token: missing required key"]


def test_the_plugin_s_own_check_is_reported_at_its_table() -> None:
    assert messages({"token": "t", "retries": 11}, Required) == [
        "plugins.settings.p: retries must be at most 10"
    ]


def test_a_plugin_name_that_needs_quotes_is_quoted_in_the_path() -> None:
    _, issues = check_plugin_settings("my plugin", Required, {})
    assert [i.path for i in issues] == ['plugins.settings."my plugin".token']


@dataclass
class Unsupported:
    when: set[str] = field(default_factory=set)


def test_an_annotation_toml_cannot_hold_is_the_plugin_s_mistake() -> None:
    with pytest.raises(SettingsSchemaError, match=r"Unsupported\.when: botrt cannot check"):
        check_plugin_settings("p", Unsupported, {})


def test_the_planner_takes_only_a_dataclass() -> None:
    with pytest.raises(TypeError, match="takes a dataclass"):
        PluginPlanner(version="1.0.0", settings=dict)
    assert PluginPlanner(version="1.0.0", settings=Required).settings is Required
    assert PluginPlanner(version="1.0.0").settings is None
