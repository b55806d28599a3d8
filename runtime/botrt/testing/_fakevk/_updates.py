"""Updates shaped like VK's (API 5.199), for Long Poll and Callback API alike."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

from botrt.testing._fakevk._state import Group


def envelope(group_id: int, type_: str, object_: dict[str, Any]) -> dict[str, Any]:
    """Return an update of `type_` carrying `object_`, with a fresh 40-hex `event_id`."""
    return {
        "group_id": group_id,
        "type": type_,
        "event_id": secrets.token_hex(20),
        "v": "5.199",
        "object": object_,
    }


def message_new(
    group: Group,
    from_id: int,
    text: str,
    *,
    peer_id: int | None,
    payload: Any,
    attachments: Iterable[Mapping[str, Any]],
    fwd_messages: Iterable[Mapping[str, Any]] = (),
    reply_message: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a `message_new` update from `from_id`, numbered in `group`'s conversations.

    `fwd_messages` and `reply_message` are VK's foreign-message objects, as
    delivered (``{"date", "from_id", "text", "conversation_message_id", ...}``).
    """
    peer = from_id if peer_id is None else peer_id
    group.conversation_ids[peer] += 1
    # A message in a chat has no community-wide id; VK sends 0.
    message_id = 0 if peer >= 2_000_000_000 else group.next_message_id
    if message_id:
        group.message_ids[message_id] = peer
    message: dict[str, Any] = {
        "date": int(time.time()),
        "from_id": from_id,
        "id": message_id,
        "out": 0,
        "attachments": [dict(a) for a in attachments],
        "conversation_message_id": group.conversation_ids[peer],
        "fwd_messages": [dict(m) for m in fwd_messages],
        "important": False,
        "is_hidden": False,
        "peer_id": peer,
        "random_id": 0,
        "text": text,
    }
    group.next_message_id += 1
    if reply_message is not None:
        message["reply_message"] = dict(reply_message)
    if payload is not None:
        message["payload"] = payload if isinstance(payload, str) else json.dumps(payload)
    # What VK reports a modern client can show; botrt's events read it.
    client_info = {
        "button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback"],
        "keyboard": True,
        "inline_keyboard": True,
        "carousel": True,
        "lang_id": 0,
    }
    return envelope(group.group_id, "message_new", {"message": message, "client_info": client_info})
