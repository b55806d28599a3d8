"""How Python values become VK API parameters (form fields and VKScript arguments)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botrt import _json
from botrt.adapter import Keyboard


def encode_value(value: Any) -> str:
    """Encode one API parameter the way VK expects it in a form.

    Booleans become `1`/`0`; lists and tuples of plain values are joined with
    commas; dicts, and lists holding dicts or lists, become JSON; a
    `Keyboard` becomes VK's keyboard JSON; anything else goes through `str`.
    """
    kind = type(value)
    if kind is str:  # the usual cases first: this runs for every parameter of every call
        return value
    if kind is int:
        return str(value)
    if kind is bool:
        return "1" if value else "0"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value
    if isinstance(value, Keyboard):
        return value.to_json()
    if isinstance(value, Mapping):
        return _json.dumps(value)
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        if any(isinstance(item, Mapping | list | tuple) for item in items):
            return _json.dumps(items)
        return ",".join(encode_value(item) for item in items)
    return str(value)


def script_value(value: Any) -> Any:
    """Encode one parameter for a VKScript call inside `execute`.

    Like `encode_value`, except that numbers stay numbers.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return encode_value(value)
