"""Splitting long text into messages a platform accepts."""

from __future__ import annotations

MESSAGE_LIMIT = 4096
"""The text limit of one message on VK, the strictest platform botrt speaks."""


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split `text` into pieces of at most `limit` characters, at clean boundaries.

    Each cut is made at the last newline that fits, else at the last space,
    else hard at `limit`; the newline or space at a cut is dropped. Text that
    fits comes back as a one-element list (an empty text as `[""]`).

    :raises ValueError: if `limit` is less than 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        # Look one character past the limit: a separator right there is a
        # clean cut that still leaves a full-length piece.
        window = rest[: limit + 1]
        cut = window.rfind("\n")
        if cut <= 0:
            cut = window.rfind(" ")
        if cut <= 0:
            pieces.append(rest[:limit])
            rest = rest[limit:]
        else:
            pieces.append(rest[:cut])
            rest = rest[cut + 1 :]
    pieces.append(rest)
    return pieces
