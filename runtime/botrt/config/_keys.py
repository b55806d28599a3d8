"""Key paths as users read them in messages: ``bots[0].token``, ``plugins.settings."my plugin"``."""

from __future__ import annotations

import json
import re

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def join_key(parent: str, key: str) -> str:
    """The path of table key `key` under `parent`, quoted as TOML would need it."""
    shown = key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)
    return f"{parent}.{shown}" if parent else shown


def join_index(parent: str, index: int) -> str:
    """The path of item `index` of the array at `parent`."""
    return f"{parent}[{index}]"
