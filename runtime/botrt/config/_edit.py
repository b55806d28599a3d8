"""Turning a plugin on or off in ``bot.toml`` (``botrt plugins enable|disable NAME``).

The edit works on the raw TOML data, never the expanded one, so ``${VAR}`` strings
stay as written. The new data is first written into the file's own text, changing
only the ``enabled``/``disabled`` lines of ``[plugins]`` so comments and layout
survive; if that text does not parse back to exactly the new data (an unusual
layout), the whole file is rewritten with tomli-w instead, which keeps every
value but not the comments.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import tomli_w

from botrt.config._check import describe
from botrt.config._errors import ConfigError, ConfigIssue
from botrt.config._fs import write_atomically
from botrt.config._load import parse_toml, read_text

_HEADER = re.compile(r"\s*\[\s*plugins\s*\]\s*(#.*)?")
_ANY_HEADER = re.compile(r"\s*\[")
_OPENING_COMMENT = re.compile(r"\s*[A-Za-z_-]+\s*=\s*\[\s*(#.*)?")
_KEY_ORDER = ("dirs", "enabled", "disabled")  # where a new key goes: after its predecessor
_MAX_LINE = 100


def set_plugin_enabled(path: str | os.PathLike[str], name: str, enabled: bool) -> None:
    """Enable or disable plugin `name` in the ``bot.toml`` at `path`, keeping all else.

    Enabling removes `name` from ``disabled`` and, unless ``enabled`` holds ``"*"``,
    adds it to ``enabled``. Disabling adds it to ``disabled`` and removes it from
    ``enabled``. A file that already says so is left untouched. The file is
    replaced atomically (a temporary file in its folder, then ``os.replace``).

    :raises ValueError: if `name` is empty or ``"*"``.
    :raises ConfigError: if the file is missing, unreadable or not TOML; if
        ``[plugins]``, ``enabled`` or ``disabled`` has the wrong type; or if
        ``disabled`` holds ``"*"`` while enabling (it would still win).
    :raises OSError: if the file cannot be written.
    """
    if not name or name == "*":
        raise ValueError(f"expected a plugin name, got {name!r}")
    text = read_text(path)
    assert text is not None
    data = parse_toml(text, path)
    changes = _changes(data, name, enabled, path)
    if not changes:
        return
    new_data = copy.deepcopy(data)
    new_data.setdefault("plugins", {}).update(changes)
    patched = _patch(text, changes)
    if not _parses_to(patched, new_data):
        patched = tomli_w.dumps(new_data)
    # Write through a symlink to the file it names, rather than replacing the link.
    write_atomically(Path(os.path.realpath(path)), patched.encode("utf-8"))


def _changes(
    data: dict[str, Any], name: str, enabled: bool, path: str | os.PathLike[str]
) -> dict[str, list[str]]:
    plugins = data.get("plugins", {})
    if not isinstance(plugins, dict):
        _refuse(path, "plugins", f"expected a table, got {describe(plugins)}")
    on = _names(plugins, "enabled", ["*"], path)
    off = _names(plugins, "disabled", [], path)
    changes: dict[str, list[str]] = {}
    if enabled:
        if "*" in off:
            _refuse(
                path, "plugins.disabled", f'"*" disables every plugin, so "{name}" cannot be on'
            )
        if name in off:
            changes["disabled"] = [n for n in off if n != name]
        if "*" not in on and name not in on:
            changes["enabled"] = [*on, name]
    else:
        if name not in off:
            changes["disabled"] = [*off, name]
        if name in on:
            changes["enabled"] = [n for n in on if n != name]
    return changes


def _names(
    plugins: dict[str, Any], key: str, default: list[str], path: str | os.PathLike[str]
) -> list[str]:
    value = plugins.get(key, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _refuse(path, f"plugins.{key}", f"expected an array of plugin names, got {describe(value)}")
    return value


def _refuse(path: str | os.PathLike[str], key: str, message: str) -> NoReturn:
    raise ConfigError([ConfigIssue(key, message)], path)


def _parses_to(text: str, data: dict[str, Any]) -> bool:
    try:
        return tomllib.loads(text) == data
    except tomllib.TOMLDecodeError:
        return False


def _patch(text: str, changes: dict[str, list[str]]) -> str:
    """`text` with the changed keys of ``[plugins]`` rewritten or added in place.

    Best effort: the caller checks that the result parses to the intended data.
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    header = next((i for i, line in enumerate(lines) if _HEADER.fullmatch(line.rstrip())), None)
    if header is None:
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += newline
        block = [f"{_assignment(k, v, newline)}{newline}" for k, v in changes.items()]
        gap = [newline] if lines else []
        return "".join([*lines, *gap, f"[plugins]{newline}", *block])
    end = next(
        (i for i in range(header + 1, len(lines)) if _ANY_HEADER.match(lines[i])), len(lines)
    )
    for key in _KEY_ORDER:  # fixed order, so a key inserted after its predecessor is found
        if key not in changes:
            continue
        span = _statement(lines, header + 1, end, key)
        if span is not None:
            first, last = span
            lines[first:last] = [_replacement(lines[first:last], key, changes[key], newline)]
            end -= last - first - 1
        else:
            anchor = header + 1
            for before in _KEY_ORDER[: _KEY_ORDER.index(key)]:
                found = _statement(lines, header + 1, end, before)
                if found is not None:
                    anchor = found[1]
            lines.insert(anchor, f"{_assignment(key, changes[key], newline)}{newline}")
            end += 1
    return "".join(lines)


def _statement(lines: list[str], start: int, end: int, key: str) -> tuple[int, int] | None:
    # The lines [first, last) holding `key = value`: the shortest run that parses alone.
    pattern = re.compile(rf"\s*{re.escape(key)}\s*=")
    for first in range(start, end):
        if not pattern.match(lines[first]):
            continue
        for last in range(first + 1, end + 1):
            try:
                parsed = tomllib.loads("".join(lines[first:last]))
            except tomllib.TOMLDecodeError:
                continue
            return (first, last) if list(parsed) == [key] else None
        return None
    return None


def _replacement(old: list[str], key: str, value: list[str], newline: str) -> str:
    indent = old[0][: len(old[0]) - len(old[0].lstrip())]
    if len(old) == 1:
        code, comment = _split_comment(old[0].rstrip("\r\n"))
        column = len(code)
    else:  # only a comment after the opening "[" is kept; ones inside the list go with it
        opening = _OPENING_COMMENT.match(old[0].rstrip("\r\n"))
        comment, column = (opening.group(1) or "") if opening else "", 0
    # A list the user spread over lines stays spread; a one-line list breaks when too long.
    assignment = _assignment(key, value, newline, one_line=len(old) == 1)
    first, brk, rest = f"{indent}{assignment}".partition(newline)
    if comment:
        # Keep an aligned comment in its column, unless the list broke over lines.
        first += " " * (max(column - len(first), 1) if not brk else 2) + comment
    return f"{first}{brk}{rest}{newline}"


def _split_comment(line: str) -> tuple[str, str]:
    # A "#" starts the comment if the text before it is already the whole statement;
    # a "#" inside a string leaves the text before it unparseable.
    whole = tomllib.loads(line)
    for match in re.finditer("#", line):
        try:
            if tomllib.loads(line[: match.start()]) == whole:
                return line[: match.start()], line[match.start() :]
        except tomllib.TOMLDecodeError:
            continue
    return line, ""


def _assignment(key: str, value: Sequence[str], newline: str, *, one_line: bool = True) -> str:
    # tomli-w always spreads arrays over several lines; bot.toml's lists are short and
    # written on one line, so keep that style while it fits.
    if one_line:
        items = ", ".join(tomli_w.dumps({"v": item})[len("v = ") :].rstrip("\n") for item in value)
        line = f"{key} = [{items}]"
        if len(line) <= _MAX_LINE:
            return line
    return tomli_w.dumps({key: list(value)}).rstrip("\n").replace("\n", newline)
