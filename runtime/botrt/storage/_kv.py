"""The plugins' key-value pairs: JSON text in ``botrt_kv``, keyed by plugin and key."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from botrt.storage._errors import StorageError
from botrt.storage._upsert import build_upsert

MAX_KEY = 500
"""The longest key, in characters (the column is ``VARCHAR(500)``)."""


async def get(conn: AsyncConnection, kv: Table, plugin: str, key: str, default: Any) -> Any:
    """The value of `plugin`'s `key`, or `default`.

    :raises StorageError: if `key` is not a non-empty string of at most `MAX_KEY` characters.
    """
    check_key(key)
    text = await conn.scalar(select(kv.c.value).where(kv.c.plugin == plugin, kv.c.key == key))
    return default if text is None else json.loads(text)


async def put(conn: AsyncConnection, kv: Table, plugin: str, key: str, text: str) -> None:
    """Store `text` (JSON made by `encode`) under `plugin`'s `key`, replacing what was there.

    Raises nothing of its own (`encode` checked the key).
    """
    row = {"plugin": plugin, "key": key, "value": text}
    upsert = build_upsert(conn.dialect.name, kv, [row], ["plugin", "key"], ["value"])
    await conn.execute(upsert, [row])


async def remove(conn: AsyncConnection, kv: Table, plugin: str, key: str) -> bool:
    """Forget `plugin`'s `key`; returns whether it was there.

    :raises StorageError: if `key` is invalid.
    """
    check_key(key)
    result = await conn.execute(delete(kv).where(kv.c.plugin == plugin, kv.c.key == key))
    return bool(result.rowcount)


def encode(plugin: str, key: str, value: Any) -> str:
    """`value` as compact JSON, after checking `key`.

    :raises StorageError: if `key` is invalid or `value` is not JSON-serialisable
        (NaN and infinities included, which JSON does not have).
    """
    check_key(key)
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise StorageError(
            f"plugin {plugin!r}: the value for key {key!r} cannot be stored as JSON: {exc}"
        ) from None


def check_key(key: object) -> None:
    """Check that `key` can be stored.

    :raises StorageError: if `key` is not a non-empty string of at most `MAX_KEY` characters.
    """
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise StorageError(
            f"a key must be a non-empty string of at most {MAX_KEY} characters, not {key!r}"
        )
