"""Counted nouns in command output: ``1 flow``, ``2 flows``."""

from __future__ import annotations


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and `noun`, in the plural unless `n` is 1 (`plural` when not just noun + "s")."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
