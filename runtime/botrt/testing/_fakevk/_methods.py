"""The API methods FakeVK serves, one function each, and the table that routes to them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botrt.testing._fakevk import _docs, _keyboards
from botrt.testing._fakevk._state import (
    Activity,
    ApiError,
    EventAnswer,
    Group,
    LiveMessage,
    SentMessage,
    State,
    injected_text,
    invalid_param,
)

_MAX_TEXT = 4096
_MAX_EVENT_DATA = 1000  # messages.sendMessageEventAnswer, per VK's schema
_MAX_FORWARDS = 1000  # the schema's maxItems of forward_messages
_CHAT_PEER = 2_000_000_000
_ACTIVITIES = frozenset({"typing", "audiomessage", "photo", "video", "file", "videomessage"})

#: A method: the shared state, the calling token's group, the request parameters.
Handler = Callable[[State, Group, dict[str, str]], Any]


def dispatch(state: State, group: Group, method: str, params: dict[str, str]) -> Any:
    """Run `method` for `group` and return its `response`.

    :raises ApiError: 3 for an unknown method, 100 for a missing or malformed
        parameter, or the method's own error.
    """
    handler = _HANDLERS.get(method)
    if handler is None:
        raise ApiError(3, "Unknown method passed")
    try:
        return handler(state, group, params)
    except (KeyError, ValueError) as exc:
        raise invalid_param(str(exc)) from None


def int_list(value: str) -> list[int]:
    """Parse VK's comma-separated id list."""
    return [int(part) for part in value.split(",") if part.strip()]


def _messages_send(state: State, group: Group, p: dict[str, str]) -> Any:
    if "random_id" not in p:
        raise invalid_param("random_id is a required parameter")
    text = p.get("message", "")
    forwards = p.get("forward") or p.get("forward_messages")
    if not text and not p.get("attachment") and not p.get("sticker_id") and not forwards:
        raise invalid_param("message is empty or invalid")
    if len(text) > _MAX_TEXT:
        raise ApiError(914, "Message is too long")
    keyboard = _keyboards.parse_keyboard(p["keyboard"]) if "keyboard" in p else None
    if "peer_ids" in p:
        peers = int_list(p["peer_ids"])
        if not peers or len(peers) > 100:
            raise ValueError("peer_ids must hold 1 to 100 ids")
        _check_forwards(group, p, peers)
        return [_send_one(state, group, peer, p, keyboard) for peer in peers]
    peer = int(p.get("peer_id") or p["user_id"])
    _check_forwards(group, p, [peer])
    item = _send_one(state, group, peer, p, keyboard)
    if "error" in item:
        raise ApiError(item["error"]["code"], item["error"]["description"])
    return item["message_id"]


def _check_forwards(group: Group, p: dict[str, str], peers: list[int]) -> None:
    """Refuse `forward` / `forward_messages` as VK does (see `check_forward`)."""
    if p.get("forward"):
        check_forward(group, p["forward"], peers)
    if p.get("forward_messages"):
        ids = int_list(p["forward_messages"])
        if len(ids) > _MAX_FORWARDS:
            raise ApiError(913, "Too many forwarded messages")
        if any(i not in group.message_ids for i in ids):
            raise ApiError(921, "Can't forward these messages")


def check_forward(group: Group, raw: str, peers: list[int]) -> None:
    """Check a `messages.send(forward=...)` JSON object for sending to `peers`.

    What VK's documentation asks of it: an object with the `peer_id` the
    messages are in and a non-empty `conversation_message_ids` (or
    `message_ids`) list of them; a community may forward only messages of its
    own conversations (ones it received or sent), so an id FakeVK never
    numbered there is refused; `is_reply` answers one message in its own
    conversation only.

    :raises ApiError: 100 for a malformed object or a misused `is_reply`,
        913 for more than 1,000 messages, 921 for messages the community cannot forward.
    """
    try:
        forward = json.loads(raw)
    except ValueError:
        raise invalid_param("forward is not valid JSON") from None
    if not isinstance(forward, dict):
        raise invalid_param("forward must be a JSON object")
    peer = forward.get("peer_id")
    cmids = forward.get("conversation_message_ids")
    ids = forward.get("message_ids")
    if not _is_int(peer):
        raise invalid_param("forward.peer_id is required")
    for name, value in (("conversation_message_ids", cmids), ("message_ids", ids)):
        if value is not None and not (isinstance(value, list) and all(map(_is_int, value))):
            raise invalid_param(f"forward.{name} must be a list of integers")
    chosen = list(cmids or []) + list(ids or [])
    if not chosen:
        raise invalid_param("forward has no conversation_message_ids or message_ids")
    if len(chosen) > _MAX_FORWARDS:
        raise ApiError(913, "Too many forwarded messages")
    known = group.conversation_ids[peer]
    if any(not 1 <= c <= known for c in cmids or []) or any(
        group.message_ids.get(i) != peer for i in ids or []
    ):
        raise ApiError(921, "Can't forward these messages")
    if forward.get("is_reply") and (len(chosen) != 1 or any(p != peer for p in peers)):
        raise invalid_param("reply_to have to be message from same chat")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _send_one(
    state: State, group: Group, peer: int, p: dict[str, str], keyboard: dict[str, Any] | None
) -> dict[str, Any]:
    code = state.blocked.get(peer)
    if code is not None:
        return {"peer_id": peer, "error": {"code": code, "description": injected_text(code)}}
    random_id = int(p["random_id"])
    seen = group.random_ids.setdefault(peer, {})
    if random_id != 0 and random_id in seen:
        message_id, conversation_id = seen[random_id]
        return {
            "peer_id": peer,
            "message_id": message_id,
            "conversation_message_id": conversation_id,
        }
    message_id = group.next_message_id
    group.next_message_id += 1
    group.conversation_ids[peer] += 1
    if peer < _CHAT_PEER:
        group.message_ids[message_id] = peer
    if random_id != 0:
        seen[random_id] = (message_id, group.conversation_ids[peer])
        while len(seen) > 100:
            del seen[next(iter(seen))]
    sent = SentMessage(
        group.group_id,
        peer,
        p.get("message", ""),
        p.get("attachment"),
        random_id,
        message_id,
        group.conversation_ids[peer],
        dict(p),
        keyboard,
    )
    state.sent.append(sent)
    live = LiveMessage(
        group.group_id, peer, message_id, sent.conversation_message_id, sent.text, keyboard
    )
    _keyboards.place(state.messages, live)
    return {
        "peer_id": peer,
        "message_id": message_id,
        "conversation_message_id": sent.conversation_message_id,
    }


def _send_event_answer(state: State, group: Group, p: dict[str, str]) -> int:
    raw = p.get("event_data", "")
    if len(raw) > _MAX_EVENT_DATA:
        raise invalid_param(f"event_data is longer than {_MAX_EVENT_DATA} characters")
    data = json.loads(raw) if raw else None
    state.event_answers.append(
        EventAnswer(group.group_id, p["event_id"], int(p["user_id"]), int(p["peer_id"]), data)
    )
    return 1


def _messages_edit(state: State, group: Group, p: dict[str, str]) -> int:
    peer = int(p["peer_id"])
    if "conversation_message_id" in p:
        key, wanted = "conversation_message_id", int(p["conversation_message_id"])
    else:
        key, wanted = "message_id", int(p["message_id"])
    target = next(
        (
            m
            for m in state.messages
            if m.group_id == group.group_id and m.peer_id == peer and getattr(m, key) == wanted
        ),
        None,
    )
    if target is None:
        raise invalid_param(f"message {key}={wanted} not found in conversation {peer}")
    text = p.get("message", "")
    if len(text) > _MAX_TEXT:
        raise ApiError(914, "Message is too long")
    keyboard = _keyboards.parse_keyboard(p["keyboard"]) if "keyboard" in p else None
    target.text = text
    # VK's docs do not say an edit keeps a keyboard it does not repeat: drop it.
    target.keyboard = keyboard if keyboard and keyboard.get("buttons") else None
    target.edits += 1
    return 1


def _set_activity(state: State, group: Group, p: dict[str, str]) -> int:
    kind = p.get("type", "")
    if kind not in _ACTIVITIES:
        raise invalid_param(f"type must be one of {', '.join(sorted(_ACTIVITIES))}")
    peer = int(p.get("peer_id") or p["user_id"])
    if p.get("group_id") and int(p["group_id"]) != group.group_id:
        raise ApiError(15, "Access denied: no access to this group")
    state.activities.append(Activity(group.group_id, peer, kind))
    return 1


def _get_members(state: State, group: Group, p: dict[str, str]) -> dict[str, Any]:
    target = state.groups.get(int(p.get("group_id", group.group_id)))
    if target is None:
        raise ApiError(125, "Invalid group id")
    offset, count = int(p.get("offset", 0)), int(p.get("count", 1000))
    if not 0 <= count <= 1000 or offset < 0:
        raise ValueError("count must be 0..1000 and offset not negative")
    fields = [f for f in p.get("fields", "").split(",") if f]
    items: list[Any]
    if p.get("filter") == "managers":
        items = [
            {"id": uid, "role": role, "permissions": [], "is_call_operator": False}
            for uid, role in target.managers.items()
        ]
    elif p.get("filter"):
        items = []
    else:
        items = list(target.members)
    page = items[offset : offset + count]
    if fields:
        page = [state.user({"id": i} if isinstance(i, int) else i) for i in page]
    return {"count": len(items), "items": page}


def _users_get(state: State, group: Group, p: dict[str, str]) -> list[dict[str, Any]]:
    return [state.user({"id": uid}) for uid in int_list(p["user_ids"])]


def _get_longpoll_server(state: State, group: Group, p: dict[str, str]) -> dict[str, str]:
    if int(p["group_id"]) != group.group_id:
        raise ApiError(15, "Access denied: no access to this group")
    server = f"{state.base_url}/lp/{group.group_id}"
    return {"key": group.key, "server": server, "ts": str(group.ts)}


# Built once at import: a request only looks its method up.
_HANDLERS: dict[str, Handler] = {
    "messages.send": _messages_send,
    "messages.sendMessageEventAnswer": _send_event_answer,
    "messages.edit": _messages_edit,
    "messages.setActivity": _set_activity,
    "groups.getMembers": _get_members,
    "groups.getLongPollServer": _get_longpoll_server,
    "users.get": _users_get,
    "docs.getMessagesUploadServer": _docs.get_messages_upload_server,
    "docs.save": _docs.save,
}
