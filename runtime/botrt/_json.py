"""JSON on VK's wire: orjson when it is installed (``botrt[speed]``), the standard library if not.

`loads` and `dumps` pick the codec on first use (nothing is imported before);
`codec()` tells which one runs. Both codecs give the same results for what
VK sends and botrt writes: `dumps` writes compact JSON (no spaces) with
non-ASCII text as is, integer dict keys as strings; `loads` takes str or
bytes and raises `ValueError` on anything that is not JSON.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class JsonCodec:
    """One way to read and write JSON.

    Attributes:
        name: ``"orjson"`` or ``"json"`` (the standard library).
        loads: JSON text (str or bytes) to Python; raises `ValueError` on bad JSON.
        dumps: Python to compact JSON text, non-ASCII kept.
    """

    name: str
    loads: Callable[[str | bytes], Any]
    dumps: Callable[[Any], str]


def stdlib_codec() -> JsonCodec:
    """The standard library's `json`."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    return JsonCodec("json", _stdlib_loads(), encode)


def _stdlib_loads() -> Callable[[str | bytes], Any]:
    # `json.loads` on text is its C scanner from index 0 wrapped in checks (a BOM,
    # whitespace around, extra data) that cost a fifth of a small update's parse.
    # Text the scanner reads to its end from index 0 has none of them: its value is
    # `json.loads`'s. Anything else goes through `json.loads`, errors included.
    scan = json.JSONDecoder().scan_once
    slow = json.loads

    def loads(data: str | bytes) -> Any:
        if type(data) is str:
            try:
                value, end = scan(data, 0)
            except StopIteration:
                return slow(data)
            if end == len(data):
                return value
        return slow(data)

    return loads


def orjson_codec() -> JsonCodec:
    """orjson, written to match `stdlib_codec`.

    :raises ImportError: if orjson is not installed.
    """
    import orjson

    options = orjson.OPT_NON_STR_KEYS
    fast = orjson.dumps
    slow = stdlib_codec().dumps

    def dumps(value: Any) -> str:
        try:
            return fast(value, option=options).decode()
        except TypeError:
            # What orjson does not take (integers past 64 bits, ...): as the stdlib does.
            return slow(value)

    return JsonCodec("orjson", orjson.loads, dumps)


@functools.cache
def codec() -> JsonCodec:
    """The codec `loads` and `dumps` use: orjson if installed, else the standard library."""
    try:
        return orjson_codec()
    except ImportError:
        return stdlib_codec()


def loads(data: str | bytes) -> Any:
    """Parse JSON `data`.

    :raises ValueError: if `data` is not JSON.
    """
    return codec().loads(data)


def dumps(value: Any) -> str:
    """Write `value` as compact JSON, non-ASCII text as is.

    :raises TypeError: if `value` holds something JSON cannot carry.
    """
    return codec().dumps(value)
