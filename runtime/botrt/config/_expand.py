"""``${VAR}`` expansion in every string value of a parsed TOML document."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from botrt.config._errors import ConfigIssue
from botrt.config._keys import join_index, join_key

# `$$` is a literal `$`; `${NAME}` a variable; a `${` that never closes is an error.
# Any other `$` is kept as written, so "costs $5" needs no escaping.
_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Expansion:
    """The result of expanding a document: the new data, the problems, and where they are.

    `failed` holds the key paths whose value could not be expanded, so the
    validator can skip them instead of reporting a second, derived error.
    """

    __slots__ = ("data", "failed", "issues")

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.issues: list[ConfigIssue] = []
        self.failed: set[str] = set()


def expand_document(data: Mapping[str, Any], environ: Mapping[str, str]) -> Expansion:
    """Expand ``${VAR}`` in every string of `data` (keys excepted) from `environ`.

    `data` is left untouched; the expanded copy is in the result. Problems are
    collected, never raised: a value that fails keeps its original text.
    """
    result = Expansion()
    result.data = _walk_table(data, "", environ, result)
    return result


def expand_string(text: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """Expand one string; returns the text and the problems (messages without a key path)."""
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$$":
            return "$"
        name = match.group(1)
        if name is None:
            problems.append('unterminated "${" (write "$$" for a literal "$")')
            return token
        if not _NAME.fullmatch(name):
            problems.append(f'invalid variable name in "{token}"')
            return token
        if name not in environ:
            problems.append(f"environment variable {name} is not set")
            return token
        return environ[name]

    expanded = _TOKEN.sub(replace, text)
    return (text if problems else expanded), problems


def _walk(value: Any, path: str, environ: Mapping[str, str], result: Expansion) -> Any:
    if isinstance(value, str):
        expanded, problems = expand_string(value, environ)
        for message in problems:
            result.issues.append(ConfigIssue(path, message))
        if problems:
            result.failed.add(path)
        return expanded
    if isinstance(value, Mapping):
        return _walk_table(value, path, environ, result)
    if isinstance(value, list | tuple):  # tuples too, for mappings built in Python
        return [_walk(item, join_index(path, i), environ, result) for i, item in enumerate(value)]
    return value


def _walk_table(
    table: Mapping[str, Any], path: str, environ: Mapping[str, str], result: Expansion
) -> dict[str, Any]:
    return {key: _walk(item, join_key(path, key), environ, result) for key, item in table.items()}
