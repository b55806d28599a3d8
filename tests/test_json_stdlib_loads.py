"""The standard library codec's `loads` reads text with the C scanner directly (a fifth
of a small update's parse is `json.loads`'s wrappers): its results and its errors must
be `json.loads`'s, whatever the text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from botrt._json import stdlib_codec

TEXTS = [
    '{"type":"message_new","group_id":1,"object":{"message":{"text":"hi"}}}',
    "[1, 2.5, -3e2, true, false, null]",
    '"just a string"',
    "42",
    "NaN",
    '  {"leading": "whitespace"}',
    '{"trailing": "whitespace"} \n\t\r',
    '{"extra": 1} x',
    '{"extra": 1}{"two": 2}',
    '{"a": 1}\x0b',  # not JSON whitespace, though str.isspace says so
    '{"a": 1}\u00a0',
    '\ufeff{"bom": 1}',
    "",
    "   ",
    "{",
    '{"a": }',
    '{"dup": 1, "dup": 2}',
    '{"unicode": "\\u0441\\u043e\\ud83d\\ude00"}',
]


def outcome(loads: Any, text: str | bytes) -> tuple[str, Any]:
    try:
        return "ok", loads(text)
    except ValueError as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("text", TEXTS)
def test_loads_gives_what_json_loads_gives(text: str) -> None:
    got = outcome(stdlib_codec().loads, text)
    want = outcome(json.loads, text)
    if got[0] == "ok" and want[0] == "ok" and text == "NaN":
        assert got[1] != got[1]  # NaN: equal to nothing, itself included
        assert want[1] != want[1]
    else:
        assert got == want


@pytest.mark.parametrize("text", [t.encode() for t in TEXTS[:8]] + ['{"é": 1}'.encode("utf-16")])
def test_bytes_are_read_as_json_loads_reads_them(text: bytes) -> None:
    got = outcome(stdlib_codec().loads, text)
    want = outcome(json.loads, text)
    if text == b"NaN":
        assert got[0] == want[0] == "ok"
    else:
        assert got == want


def test_the_scanner_keeps_no_state_between_calls() -> None:
    loads = stdlib_codec().loads
    first = loads('{"key": {"key": 1}}')
    second = loads('{"key": 2}')
    assert first == {"key": {"key": 1}}
    assert second == {"key": 2}
