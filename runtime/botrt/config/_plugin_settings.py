"""A plugin's declared settings: ``[plugins.settings.<name>]`` checked against a dataclass.

A plugin declares its settings with ``PluginPlanner(..., settings=SomeDataclass)``:
each field is a key, its annotation the key's type, a field without a default a
required key. `check_plugin_settings` reports every wrong type, missing key and
unknown key with its key path, the way the rest of ``bot.toml`` is checked, and
then builds the dataclass, so checks a type cannot say (in ``__post_init__``,
raising `ValueError`) are reported too.
"""

from __future__ import annotations

import dataclasses
import datetime
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from botrt._errors import BotrtError
from botrt.config import _check as c
from botrt.config._check import Table
from botrt.config._errors import ConfigIssue
from botrt.config._keys import join_key

_SCALARS: dict[Any, tuple[c.Check, str]] = {
    str: (c.string(), "strings"),
    int: (c.integer(), "integers"),
    bool: (c.boolean, "booleans"),
}


class SettingsSchemaError(BotrtError, TypeError):
    """A settings dataclass uses an annotation botrt cannot check; the message names the field."""


def settings_path(plugin: str) -> str:
    """The key path of plugin `plugin`'s settings table: ``plugins.settings.<plugin>``."""
    return join_key("plugins.settings", plugin)


def check_plugin_settings(
    plugin: str, schema: type, raw: Mapping[str, Any]
) -> tuple[Any, list[ConfigIssue]]:
    """Check plugin `plugin`'s settings table `raw` against the dataclass `schema`.

    Returns the dataclass built from `raw` (None when there are issues) and the
    issues, each with its key path (``plugins.settings.attendance.lessons``).

    :raises SettingsSchemaError: if `schema` is not a dataclass or a field's
        annotation is not one botrt can check (a mistake of the plugin, not of
        ``bot.toml``).
    """
    if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
        raise SettingsSchemaError(f"settings must be a dataclass, got {schema!r}")
    path = settings_path(plugin)
    issues: list[ConfigIssue] = []
    table = Table(raw, path, issues, set())
    hints = _hints(schema)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(schema):
        if not field.init:
            continue
        check = _check_for(hints.get(field.name, Any), f"{schema.__name__}.{field.name}")
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        value = table.get(field.name, check, c.MISSING if required else _ABSENT)
        if value is not _ABSENT and value is not None:
            values[field.name] = value
    table.finish()
    if issues:
        return None, issues
    try:
        return schema(**values), []
    except (ValueError, TypeError) as exc:  # the plugin's own checks, in __post_init__
        return None, [ConfigIssue(path, str(exc))]


_ABSENT: Any = object()


def _hints(schema: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(schema)
    except Exception as exc:  # a name the annotations use is not importable
        raise SettingsSchemaError(
            f"cannot read the annotations of {schema.__name__}: {exc}"
        ) from exc


def _check_for(annotation: Any, where: str) -> c.Check:
    """The check of one annotation; raises SettingsSchemaError for what TOML cannot hold."""
    if annotation is Any or annotation is object:
        return lambda value, path, report: value
    if annotation in _SCALARS:
        return _SCALARS[annotation][0]
    if annotation is float:
        return _number
    if annotation is Path:
        return _path
    if annotation in (datetime.date, datetime.time, datetime.datetime):
        return _exact(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return c.choice(*args)
    if origin in (types.UnionType, typing.Union):
        # None cannot be written in TOML: `X | None` means the key may be left out.
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _check_for(rest[0], where)
    if origin in (list, tuple, Sequence) and args:
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise SettingsSchemaError(
                f"{where}: a tuple setting must be tuple[X, ...], got {annotation!r}"
            )
        item = args[0]
        noun = _SCALARS[item][1] if item in _SCALARS else "values"
        check = c.array(_check_for(item, where), noun)
        return check if origin is not list else _as_list(check)
    if origin in (dict, Mapping) and len(args) == 2 and args[0] is str:
        return _table(_check_for(args[1], where))
    raise SettingsSchemaError(
        f"{where}: botrt cannot check a setting annotated {annotation!r}; use str, int, "
        "float, bool, Path, Literal[...], list[X], tuple[X, ...], dict[str, X] or X | None"
    )


def _number(value: Any, path: str, report: c.Report) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        report(path, f"expected a number, got {c.describe(value)}")
        return c.INVALID
    return float(value)


def _path(value: Any, path: str, report: c.Report) -> Any:
    text = c.string(nonempty=True)(value, path, report)
    return c.INVALID if text is c.INVALID else Path(text).expanduser()


def _exact(kind: type) -> c.Check:
    def check(value: Any, path: str, report: c.Report) -> Any:
        # datetime is a date subclass: a date-time where a date is expected is a mistake.
        if type(value) is not kind:
            report(path, f"expected {c.type_name(kind.min)}, got {c.describe(value)}")
            return c.INVALID
        return value

    return check


def _as_list(check: c.Check) -> c.Check:
    def as_list(value: Any, path: str, report: c.Report) -> Any:
        items = check(value, path, report)
        return c.INVALID if items is c.INVALID else list(items)

    return as_list


def _table(item: c.Check) -> c.Check:
    def check(value: Any, path: str, report: c.Report) -> Any:
        if not isinstance(value, dict):
            report(path, f"expected a table, got {c.describe(value)}")
            return c.INVALID
        out = {key: item(v, join_key(path, key), report) for key, v in value.items()}
        return c.INVALID if any(v is c.INVALID for v in out.values()) else out

    return check
