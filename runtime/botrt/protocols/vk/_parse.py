"""`parse_update`: VK's update JSON, checked and turned into botrt events."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botrt.adapter import Event
from botrt.protocols.vk._community import GroupJoin, GroupLeave, VkEvent
from botrt.protocols.vk._errors import VkPayloadError
from botrt.protocols.vk._events import MessageNew
from botrt.protocols.vk._platform import CHAT_PEER_OFFSET
from botrt.protocols.vk._press import MessageEvent
from botrt.protocols.vk._text import strip_leading_mention

if TYPE_CHECKING:
    from botrt.protocols.vk._api import VkApi

logger = logging.getLogger("botrt.vk.events")


def parse_update(update: Mapping[str, Any], *, bot: str, api: VkApi | None = None) -> Event:
    """Turn one VK update (Bots Long Poll or Callback API) into an event.

    `message_new` gives `MessageNew` (both the current shape and the bare
    message of API versions before 5.103), `message_event` gives
    `MessageEvent`, `group_join`/`group_leave` give `GroupJoin`/`GroupLeave`,
    anything else `VkEvent`. Unknown fields are ignored; `event_id` may be a
    string or a number; `payload` a JSON string or an object. `api`, when
    given, is what `reply` and `answer` use.

    :raises VkPayloadError: if `update` has no string `type`, has no object
        `object` (only `confirmation` may omit it), or lacks an id the event
        needs (a message without an author, ...).
    """
    # `type(...) is dict` first: decoded JSON is a dict, and the ABC check costs more.
    if type(update) is not dict and not isinstance(update, Mapping):
        raise VkPayloadError(f"a VK update must be a JSON object, got {type(update).__name__}")
    type_ = update.get("type")
    if not type_ or not isinstance(type_, str):
        raise VkPayloadError("VK update has no 'type' string")
    obj = update.get("object")
    if obj is None and type_ == "confirmation":
        obj = {}
    if type(obj) is not dict and not isinstance(obj, Mapping):
        raise VkPayloadError(f"VK update {type_!r} has no 'object' JSON object")
    raw = dict(update)
    group_id = update.get("group_id")
    if group_id is not None and type(group_id) is not int:
        group_id = _as_int(group_id, "group_id", type_)
    raw_event_id = update.get("event_id")
    event_id = (
        raw_event_id
        if type(raw_event_id) is str
        else None
        if raw_event_id is None
        else str(raw_event_id)
    )
    if type_ == "message_new":
        return _message_new(obj, bot, group_id, raw, event_id, api)
    common: dict[str, Any] = {"bot": bot, "group_id": group_id, "raw": raw}
    if type_ == "message_event":
        return _message_event(obj, common, event_id, api)
    if type_ == "group_join":
        join_type = obj.get("join_type")
        return GroupJoin(
            user_id=_required_int(obj, "user_id", type_),
            join_type=str(join_type) if join_type is not None else "join",
            event_id=event_id,
            **common,
        )
    if type_ == "group_leave":
        return GroupLeave(
            user_id=_required_int(obj, "user_id", type_),
            self_left=_truthy(obj.get("self")),
            event_id=event_id,
            **common,
        )
    return VkEvent(type_=type_, object_=dict(obj), event_id=event_id, **common)


def _message_event(
    obj: Mapping[str, Any], common: dict[str, Any], event_id: str | None, api: VkApi | None
) -> MessageEvent:
    type_ = "message_event"
    return MessageEvent(
        user_id=_required_int(obj, "user_id", type_),
        peer_id=_required_int(obj, "peer_id", type_),
        event_id=_required_str(obj, "event_id", type_),
        payload=_decode_payload(obj.get("payload"), type_),
        conversation_message_id=_optional_int(
            obj.get("conversation_message_id"), "conversation_message_id", type_
        ),
        update_id=event_id,
        api=api,
        **common,
    )


def _message_new(
    obj: Mapping[str, Any],
    bot: str,
    group_id: int | None,
    raw: dict[str, Any],
    event_id: str | None,
    api: VkApi | None,
) -> MessageNew:
    # The hot path of every bot: ints and strings as VK sends them are taken as they
    # are, anything else goes through the checks (`_as_int`) that name the field.
    inner = obj.get("message")
    # API >= 5.103 wraps the message with `client_info`; older versions send
    # the bare message, whose text may be called `body` and author `user_id`.
    if type(inner) is dict or isinstance(inner, Mapping):
        message = dict(inner)
        client_info = obj.get("client_info")
    else:
        message = dict(obj)
        client_info = None
    what = "message_new"
    author = message.get("from_id")
    if author is None:
        author = message.get("user_id")
        if author is None:
            raise VkPayloadError("VK update 'message_new' has a message with no 'from_id'")
    user_id = author if type(author) is int else _as_int(author, "from_id", what)
    peer = message.get("peer_id")
    if peer is None:
        chat = message.get("chat_id")
        peer_id = user_id if chat is None else CHAT_PEER_OFFSET + _as_int(chat, "chat_id", what)
    else:
        peer_id = peer if type(peer) is int else _as_int(peer, "peer_id", what)
    raw_text = message.get("text")
    if type(raw_text) is not str:
        if raw_text is None:
            raw_text = message.get("body")
        raw_text = "" if raw_text is None else str(raw_text)
    message_id = message.get("id")
    if message_id is None:
        message_id = 0
    elif type(message_id) is not int:
        message_id = _as_int(message_id, "id", what) or 0
    cmid = message.get("conversation_message_id")
    if cmid is not None and type(cmid) is not int:
        cmid = _as_int(cmid, "conversation_message_id", what)
    attachments = message.get("attachments")
    payload = message.get("payload")
    return MessageNew._parsed(
        strip_leading_mention(raw_text, group_id),
        raw_text,
        user_id,
        peer_id,
        bot,
        message_id,
        cmid,
        list(attachments) if isinstance(attachments, list) else [],
        None if payload is None else _decode_payload(payload, what),
        message,
        dict(client_info) if type(client_info) is dict or isinstance(client_info, Mapping) else {},
        group_id,
        event_id,
        raw,
        api,
    )


def _decode_payload(value: Any, what: str) -> Any:
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            # VK forwards whatever string a client put there (another bot's
            # keyboard, a hand-made request); keep it rather than drop the event.
            raw = value.decode(errors="replace") if isinstance(value, bytes) else value
            logger.warning(
                "VK %s: the button payload is not JSON; kept as the raw string %.80r", what, raw
            )
            return raw
    return value


def _as_int(value: Any, key: str, what: str) -> int:
    if isinstance(value, bool):
        raise VkPayloadError(f"VK update {what!r}: {key!r} is a boolean, expected an integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise VkPayloadError(
            f"VK update {what!r}: {key!r} is {value!r}, expected an integer"
        ) from None


def _optional_int(value: Any, key: str, what: str) -> int | None:
    return None if value is None else _as_int(value, key, what)


def _required_int(obj: Mapping[str, Any], key: str, what: str) -> int:
    if obj.get(key) is None:
        raise VkPayloadError(f"VK update {what!r} has no {key!r}")
    return _as_int(obj[key], key, what)


def _required_str(obj: Mapping[str, Any], key: str, what: str) -> str:
    if obj.get(key) is None:
        raise VkPayloadError(f"VK update {what!r} has no {key!r}")
    return str(obj[key])


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in {"", "0", "false", "no"}
    return bool(value)
