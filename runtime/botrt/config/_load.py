"""Reading ``bot.toml``: file, TOML syntax, ``${VAR}`` expansion, then the schema."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, overload

from botrt.config._errors import ConfigError, ConfigIssue
from botrt.config._expand import expand_document
from botrt.config._keys import join_index, join_key
from botrt.config._model import BotConfig
from botrt.config._schema import build_config

_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_AT_END = re.compile(r"\s*\(at end of document\)$")


def load_config(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    missing_ok: bool = False,
) -> BotConfig:
    """Read, expand and validate the ``bot.toml`` at `path`.

    Relative paths inside it (plugin folders, the SQLite file) are resolved
    against the file's folder. ``${VAR}`` is read from `environ` (default:
    ``os.environ``), which also supplies ``TZ`` for the default time zone.
    With `missing_ok`, a missing file gives the defaults, relative to the
    folder the file would be in.

    :raises ConfigError: if the file is missing (unless `missing_ok`), unreadable,
        not UTF-8 or not TOML, or if any value is invalid; it lists every problem.
    """
    env = os.environ if environ is None else environ
    data = read_toml(path, missing_ok=missing_ok)
    return _build({} if data is None else data, file=Path(path), display=path, environ=env)


def default_config(
    base_dir: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
) -> BotConfig:
    """The configuration an empty ``bot.toml`` in `base_dir` would give.

    Raises nothing: the defaults are valid by construction. `environ` supplies
    ``TZ`` for the default time zone.
    """
    env = os.environ if environ is None else environ
    base = Path(os.path.abspath(base_dir))
    return _build({}, file=None, base_dir=base, display=None, environ=env)


def parse_config(
    data: Mapping[str, Any],
    *,
    base_dir: str | os.PathLike[str],
    environ: Mapping[str, str] | None = None,
) -> BotConfig:
    """Validate an already parsed ``bot.toml`` mapping (as tests and `TestHost` build them).

    :raises ConfigError: if any value is invalid or any ``${VAR}`` is unset; it lists
        every problem.
    """
    env = os.environ if environ is None else environ
    base = Path(os.path.abspath(base_dir))
    return _build(data, file=None, base_dir=base, display=None, environ=env)


@overload
def read_toml(
    path: str | os.PathLike[str], *, missing_ok: Literal[False] = ...
) -> dict[str, Any]: ...
@overload
def read_toml(path: str | os.PathLike[str], *, missing_ok: bool) -> dict[str, Any] | None: ...
def read_toml(path: str | os.PathLike[str], *, missing_ok: bool = False) -> dict[str, Any] | None:
    """The raw TOML data of `path`, nothing expanded or checked; None if missing and `missing_ok`.

    :raises ConfigError: if the file is missing (unless `missing_ok`), unreadable,
        not UTF-8 or not valid TOML.
    """
    text = read_text(path, missing_ok=missing_ok)
    return None if text is None else parse_toml(text, path)


def read_text(path: str | os.PathLike[str], *, missing_ok: bool = False) -> str | None:
    """The text of the file at `path`; None if it is missing and `missing_ok`.

    :raises ConfigError: if the file is missing (unless `missing_ok`), unreadable or not UTF-8.
    """
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return None
        raise ConfigError([ConfigIssue("", "no such file")], path) from None
    except IsADirectoryError:
        raise ConfigError([ConfigIssue("", "is a folder, not a file")], path) from None
    except OSError as exc:
        raise ConfigError([ConfigIssue("", f"cannot read: {exc.strerror}")], path) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        issue = ConfigIssue("", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})", line)
        raise ConfigError([issue], path) from None


def parse_toml(text: str, path: str | os.PathLike[str] | None) -> dict[str, Any]:
    """Parse TOML `text` read from `path` (used only to name the file in errors).

    :raises ConfigError: if the text is not valid TOML, with the line and column.
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_syntax_issue(str(exc), text)], path) from None


def _syntax_issue(message: str, text: str) -> ConfigIssue:
    # Python 3.11's TOMLDecodeError carries its position only inside the message.
    if match := _POSITION.search(message):
        line, column = int(match.group(1)), int(match.group(2))
        reason = message[: match.start()]
        lines = text.splitlines()
        source = lines[line - 1] if line <= len(lines) else ""
        detail = _excerpt(source, column)
        hint = syntax_hint(reason, source[column - 1 :])
        return ConfigIssue("", reason, line, column, "\n".join(filter(None, [detail, hint])))
    if match := _AT_END.search(message):
        lines = text.splitlines() or [""]
        reason = message[: match.start()]
        return ConfigIssue("", reason, len(lines), len(lines[-1]) + 1, syntax_hint(reason, ""))
    return ConfigIssue("", message)


def _excerpt(source: str, column: int) -> str:
    if not source.strip():
        return ""
    # Tabs would shift the caret; the excerpt is for reading, so spaces do.
    shown = source.replace("\t", " ")
    return f"    {shown}\n    {' ' * (column - 1)}^"


_BOOLEAN = re.compile(r"(True|False|TRUE|FALSE|yes|no|on|off)\b")
_BARE_WORD = re.compile(r"[^\s\"'\[\]{},=#0-9+-]")


def syntax_hint(reason: str, rest: str) -> str:
    """What usually causes TOML parse error `reason`, where `rest` is the line from its column."""
    if reason == "Invalid value":
        if _BOOLEAN.match(rest):
            return "hint: a boolean is written true or false, in lowercase"
        if _BARE_WORD.match(rest):
            return 'hint: text needs quotes, as in name = "hello"'
        if not rest:
            return "hint: a [ or { is not closed, or a value is missing after ="
        return ""
    if reason.startswith("Expected '=' after a key"):
        return 'hint: each line is key = value; a key with spaces needs quotes ("my key" = 1)'
    if reason.startswith(("Illegal character '\\n'", "Unterminated string", 'Expected "')):
        return 'hint: a string ends on its own line with its quote; use """ for several lines'
    if reason.startswith("Expected newline or end of document"):
        return 'hint: one key = value per line, and text with spaces in quotes: name = "a b"'
    if reason.startswith(("Cannot overwrite a value", "Cannot declare")):
        return "hint: a key or a [table] is written twice; keep one"
    if reason.startswith("Expected ']'"):
        return "hint: a table name ends with ], as in [bot]"
    return ""


def _build(
    data: Mapping[str, Any],
    *,
    file: Path | None,
    display: str | os.PathLike[str] | None,
    environ: Mapping[str, str],
    base_dir: Path | None = None,
) -> BotConfig:
    if file is not None:
        file = Path(os.path.abspath(file))
        base_dir = file.parent
    assert base_dir is not None
    expansion = expand_document(data, environ)
    issues = expansion.issues
    config = build_config(
        expansion.data,
        base_dir=base_dir,
        path=file,
        environ=environ,
        issues=issues,
        failed=expansion.failed,
    )
    if issues:
        raise ConfigError(_in_file_order(issues, data), display)
    return config


def _in_file_order(issues: list[ConfigIssue], data: Mapping[str, Any]) -> list[ConfigIssue]:
    # Issues come out in schema order; users fix a file top to bottom. tomllib keeps
    # keys in the order they are written, so a walk of the data gives each key's rank.
    # A missing key ranks with the nearest table that is written.
    rank: dict[str, int] = {"": -1}

    def walk(value: Any, path: str) -> None:
        rank[path] = len(rank)
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, join_key(path, key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, join_index(path, i))

    for key, item in data.items():
        walk(item, join_key("", key))

    def position(issue: ConfigIssue) -> int:
        path = issue.path
        while path not in rank:
            path = _parent(path)
        return rank[path]

    return sorted(issues, key=position)  # stable: one key's problems keep their order


def _parent(path: str) -> str:
    # Key paths end in ".key", '."quoted key"' or "[i]"; strip one step.
    if path.endswith("]"):
        return path[: path.rindex("[")]
    if path.endswith('"'):
        start = path.rindex('"', 0, len(path) - 1)
        return path[: max(start - 1, 0)]
    return path[: max(path.rfind("."), 0)]
