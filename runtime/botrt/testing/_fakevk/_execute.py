"""`execute`: the scripts `VkApi` writes, parsed and run, and nothing more::

    script := "return" ( "[" call ( "," call )* "]" | call ) ";"
    call   := "API." namespace "." method "(" [ JSON object ] ")"

Anything else is compile error 12; more than 25 calls is runtime error 13.
A failed call gives `false` in the results and an entry in `execute_errors`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from botrt.testing._fakevk._methods import dispatch
from botrt.testing._fakevk._state import ApiError, Group, State

_EXECUTE_MAX = 25
_CALL_START = re.compile(r"API\.([A-Za-z]+)\.([A-Za-z]+)\(")

Call = tuple[str, dict[str, Any]]


def run_execute(state: State, group: Group, params: dict[str, str]) -> dict[str, Any]:
    """Run the script in `params["code"]`; return the whole body, `execute_errors` included.

    :raises ApiError: 12 if the script is missing or outside the grammar,
        13 if it makes more than 25 calls.
    """
    try:
        calls, many = parse_script(params["code"])
    except (KeyError, ValueError):
        raise ApiError(12, "Unable to compile code") from None
    if len(calls) > _EXECUTE_MAX:
        raise ApiError(13, "Runtime error occurred during code invocation: too many API calls")
    results: list[Any] = []
    errors: list[dict[str, Any]] = []
    for method, args in calls:
        inner = {k: _form_value(v) for k, v in args.items()}
        try:
            results.append(dispatch(state, group, method, inner))
        except ApiError as err:
            results.append(False)
            errors.append({"method": method, "error_code": err.code, "error_msg": err.message})
    body: dict[str, Any] = {"response": results if many else results[0]}
    if errors:
        body["execute_errors"] = errors
    return body


def parse_script(code: str) -> tuple[list[Call], bool]:
    """Return the `(method, args)` calls of `code` and whether it returns a list.

    :raises ValueError: if `code` is outside the grammar.
    """
    decoder = json.JSONDecoder()
    pos = _skip(code, 0)
    if not code.startswith("return", pos):
        raise ValueError("expected 'return'")
    pos = _skip(code, pos + len("return"))
    many = code.startswith("[", pos)
    if many:
        pos = _skip(code, pos + 1)
    calls: list[Call] = []
    while True:
        match = _CALL_START.match(code, pos)
        if match is None:
            raise ValueError(f"expected an API call at {pos}")
        pos = _skip(code, match.end())
        args: Any = {}
        if not code.startswith(")", pos):
            args, pos = decoder.raw_decode(code, pos)
            pos = _skip(code, pos)
        if not isinstance(args, dict) or not code.startswith(")", pos):
            raise ValueError(f"expected a JSON object and ')' at {pos}")
        calls.append((f"{match.group(1)}.{match.group(2)}", args))
        pos = _skip(code, pos + 1)
        if many and code.startswith(",", pos):
            pos = _skip(code, pos + 1)
            continue
        break
    if many:
        if not code.startswith("]", pos):
            raise ValueError("expected ']'")
        pos = _skip(code, pos + 1)
    if code.startswith(";", pos):
        pos = _skip(code, pos + 1)
    if pos != len(code):
        raise ValueError(f"unexpected text at {pos}")
    return calls, many


def _form_value(value: Any) -> str:
    # An argument inside a script arrives as JSON; a method sees what a form would carry.
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _skip(code: str, pos: int) -> int:
    while pos < len(code) and code[pos].isspace():
        pos += 1
    return pos
