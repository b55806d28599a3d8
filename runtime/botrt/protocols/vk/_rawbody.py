"""A Callback update's body as VK sent it, made fit for the inbox without encoding it again.

The inbox stores each update as JSON text. The webhook already has that text,
the request body: what it must leave out is the top-level ``secret``. Writing
the parsed update back to JSON for that costs as much as parsing it; cutting
the member out of the text costs a few string searches. `without_secret` cuts
when it can prove the cut is exact, and says None when it cannot (the caller
then encodes the update as before).
"""

from __future__ import annotations

from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

_KEY = '"secret"'
_WHITESPACE = " \t\n\r"
# The only JSON escapes that spell a letter of "secret" are \u0063 (c), \u0065 (e),
# \u0072 (r), \u0073 (s) and \u0074 (t): a body without these prefixes writes
# every key "secret" it has as the plain text `"secret"`.
_LETTER_ESCAPES = ("\\u006", "\\u007")


def without_secret(text: str, update: dict[str, Any]) -> str | None:
    """`text` without the top-level ``secret`` member of `update`, parsed from `text`.

    Returns `text` itself when `update` has no ``secret``; None when the member
    cannot be cut out with certainty (then the update must be encoded anew):
    the secret is not a string, the text spells ``"secret"`` more than once or
    with escapes that could hide another one, or the value is written
    otherwise than `json.dumps` writes it. What is returned parses to `update`
    without ``secret``. Raises nothing.
    """
    if "secret" not in update:
        return text
    value = update["secret"]
    start = text.find(_KEY)
    if not isinstance(value, str) or start < 0 or text.find(_KEY, start + 1) >= 0:
        return None
    # One search for both escape prefixes' common start, the usual answer being no.
    if "\\u00" in text and (_LETTER_ESCAPES[0] in text or _LETTER_ESCAPES[1] in text):
        return None
    # One plain `"secret"` and no escaped spelling: it is the top-level key's (a
    # quoted `"secret"` inside another string would need escaped quotes, and a
    # nested key of that name would make two).
    colon = _skip(text, start + len(_KEY))
    if text[colon : colon + 1] != ":":
        return None
    at = _skip(text, colon + 1)
    # The value as the two common encoders write it (json.dumps writes the same).
    written = encode_basestring(value)
    if not text.startswith(written, at):
        written = encode_basestring_ascii(value)
        if not text.startswith(written, at):
            return None
    end = _skip(text, at + len(written))
    after = text[end : end + 1]
    if after == ",":  # a member follows: take ours and its comma
        return text[:start] + text[end + 1 :]
    if after != "}":
        return None
    before = start - 1
    while before >= 0 and text[before] in _WHITESPACE:
        before -= 1
    if before >= 0 and text[before] == ",":  # the last member: take the comma before it
        return text[:before] + text[end:]
    if before >= 0 and text[before] == "{":  # the only member
        return text[:start] + text[end:]
    return None


def _skip(text: str, at: int) -> int:
    # The index of the first character at or after `at` that is not JSON whitespace.
    while at < len(text) and text[at] in _WHITESPACE:
        at += 1
    return at
