"""A griffe extension for the API reference: ``:raises X: why`` becomes a Raises section.

botrt's docstrings use Google sections (``Attributes:``) together with
Sphinx-style ``:raises X: why`` lines. mkdocstrings parses one style per
docstring, so before parsing, this rewrites the ``:raises`` lines (and their
indented continuation lines) into a Google ``Raises:`` section, which renders
as a table of exceptions.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_RAISES = re.compile(
    r"^(?P<indent>\s*):raises\s+(?P<exc>[\w.]+(?:\s*,\s*[\w.]+)*)\s*:\s*(?P<why>.*)$"
)


def rewrite(text: str) -> str:
    """`text` with every run of ``:raises`` lines turned into one ``Raises:`` section."""
    lines = text.splitlines()
    out: list[str] = []
    raises: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        match = _RAISES.match(lines[i])
        if match is None:
            if raises:
                out += _section(raises)
                raises = []
            out.append(lines[i])
            i += 1
            continue
        indent = len(match["indent"])
        why = [match["why"].strip()]
        i += 1
        # Continuation lines are indented deeper than the ``:raises`` line.
        while i < len(lines) and lines[i].strip() and _indent(lines[i]) > indent:
            if _RAISES.match(lines[i]):
                break
            why.append(lines[i].strip())
            i += 1
        text = " ".join(w for w in why if w)
        raises += [(exc.strip(), text) for exc in match["exc"].split(",")]
    if raises:
        out += _section(raises)
    return "\n".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _section(raises: list[tuple[str, str]]) -> list[str]:
    return ["Raises:", *(f"    {exc}: {why}" for exc, why in raises)]


class SphinxRaises(griffe.Extension):
    """Rewrites ``:raises`` lines of every docstring before mkdocstrings parses it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the docstring of `obj`, if it has one."""
        if obj.docstring is not None and ":raises" in obj.docstring.value:
            obj.docstring.value = rewrite(obj.docstring.value)
