"""Typed reads from a parsed TOML table that collect problems instead of raising.

Each read returns a usable value even when the key is wrong (the default, or
None), so validation goes on and every problem of a file is reported at once.
"""

from __future__ import annotations

import datetime
import difflib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botrt.config._errors import ConfigIssue
from botrt.config._keys import join_index, join_key

MISSING: Any = object()  # "no default: the key is required"
INVALID: Any = object()  # what a check returns after reporting a problem

Report = Callable[[str, str], None]
Check = Callable[[Any, str, Report], Any]


def describe(value: Any, *, hide: bool = False) -> str:
    """A value as a message shows it: ``"8080" (a string)``, ``true (a boolean)``, ``an array``."""
    kind = type_name(value)
    if hide or isinstance(value, list | dict):
        return kind
    return f"{render(value)} ({kind})"


def render(value: Any) -> str:
    """A scalar as TOML would write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return repr(value)


def type_name(value: Any) -> str:
    """The TOML name of a value's type, with its article."""
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "an array"),
        (dict, "a table"),
        (datetime.datetime, "a date-time"),
        (datetime.date, "a date"),
        (datetime.time, "a time"),
    ]
    for kind, name in kinds:
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"


def one_of(choices: Sequence[Any]) -> str:
    """``"a" or "b"``, ``true, false or "auto"``."""
    shown = [render(c) for c in choices]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


class Table:
    """A TOML table being validated: reads typed keys, records issues and the keys it knows."""

    __slots__ = ("_known", "data", "failed", "issues", "path")

    def __init__(
        self, data: Mapping[str, Any], path: str, issues: list[ConfigIssue], failed: set[str]
    ) -> None:
        self.data = data
        self._known: list[str] = []
        self.path = path
        self.issues = issues
        self.failed = failed

    def report(self, path: str, message: str) -> None:
        """Record a problem at key path `path`."""
        self.issues.append(ConfigIssue(path, message))

    def key(self, key: str) -> str:
        """The full key path of `key` in this table."""
        return join_key(self.path, key)

    def get(self, key: str, check: Check, default: Any = MISSING, *, note: str = "") -> Any:
        """Read `key` through `check`; a missing or invalid key gives `default`.

        With no default the key is required: its absence is reported (with `note`
        appended) and None returned, as for an invalid value with no default.
        """
        self._known.append(key)
        path = self.key(key)
        fallback = None if default is MISSING else default
        if key not in self.data:
            if default is MISSING:
                self.report(path, f"missing required key{note}")
            return fallback
        if path in self.failed:  # its ${VAR} already failed; don't pile a second error on
            return fallback
        value = check(self.data[key], path, self.report)
        return fallback if value is INVALID else value

    def table(self, key: str) -> Table:
        """The sub-table `key` (an empty one when absent or not a table)."""
        self._known.append(key)
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            self.report(self.key(key), f"expected a table, got {describe(value)}")
            value = {}
        return Table(value, self.key(key), self.issues, self.failed)

    def raw(self, key: str) -> Any:
        """The value of `key` as written, marking the key as known; None when absent."""
        self._known.append(key)
        return self.data.get(key)

    def finish(self) -> None:
        """Report every key that no read asked for, suggesting the closest known one."""
        for key in self.data:
            if key in self._known:
                continue
            close = difflib.get_close_matches(key, self._known, n=1)
            hint = f' (did you mean "{close[0]}"?)' if close else ""
            self.report(self.key(key), f"unknown key{hint}")


# Checks take (value, key path, report) and return the value to use, or INVALID after
# reporting why. They are built by the factories below so a schema reads declaratively.


def string(*, nonempty: bool = False, hide: bool = False) -> Check:
    """A string, optionally non-empty; `hide` keeps the value out of messages (secrets)."""

    def check(value: Any, path: str, report: Report) -> Any:
        if not isinstance(value, str):
            report(path, f"expected a string, got {describe(value, hide=hide)}")
            return INVALID
        if nonempty and not value:
            report(path, "must not be empty")
            return INVALID
        return value

    return check


def integer(
    low: int | None = None, high: int | None = None, *, wording: str = "an integer"
) -> Check:
    """An integer (booleans refused), optionally within [low, high]; `wording` names that range."""

    def check(value: Any, path: str, report: Report) -> Any:
        # bool is an int subclass in Python; `port = true` is a mistake, not 1.
        if not isinstance(value, int) or isinstance(value, bool):
            report(path, f"expected an integer, got {describe(value)}")
            return INVALID
        if (low is not None and value < low) or (high is not None and value > high):
            report(path, f"expected {wording}, got {render(value)}")
            return INVALID
        return value

    return check


def positive_number(value: Any, path: str, report: Report) -> Any:
    """An integer or float greater than zero and finite."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        report(path, f"expected a positive number, got {describe(value)}")
        return INVALID
    if not (value > 0 and math.isfinite(value)):
        report(path, f"expected a positive number, got {render(value)}")
        return INVALID
    return value


def boolean(value: Any, path: str, report: Report) -> Any:
    """True or false."""
    if not isinstance(value, bool):
        report(path, f"expected a boolean, got {describe(value)}")
        return INVALID
    return value


def choice(*choices: Any) -> Check:
    """One of `choices`, compared with their type so that 1 is not true."""

    def check(value: Any, path: str, report: Report) -> Any:
        if any(type(value) is type(c) and value == c for c in choices):
            return value
        got = render(value) if isinstance(value, str) else describe(value)
        report(path, f"expected {one_of(choices)}, got {got}")
        return INVALID

    return check


def array(item: Check, noun: str, *, empty: str | None = None) -> Check:
    """An array (as a tuple) whose items pass `item`, each reported at ``key[i]``.

    `noun` names the items when the value is not an array: ``an array of strings``.
    With `empty`, an empty array is refused with that message.
    """

    def check(value: Any, path: str, report: Report) -> Any:
        if not isinstance(value, list):
            report(path, f"expected an array of {noun}, got {describe(value)}")
            return INVALID
        if not value and empty is not None:
            report(path, empty)
            return INVALID
        items = tuple(item(raw, join_index(path, i), report) for i, raw in enumerate(value))
        return INVALID if any(i is INVALID for i in items) else items

    return check
