"""Keyboards in FakeVK: VK's checks on `keyboard`, the conversations' buttons, and presses.

VK answers a keyboard that is not JSON with error 100 ("keyboard contains
incorrect JSON") and one that breaks a rule with 911 ("Keyboard format is
invalid: ..."), before anything is sent. The checks are FakeVK's own reading
of VK's keyboard docs, written apart from `botrt.adapter.Keyboard`, so a bug
in one does not hide in the other.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from botrt.testing._fakevk._state import ApiError, FakeVKError, LiveMessage, invalid_param

_ROWS, _ROWS_INLINE = 10, 6
_BUTTONS, _BUTTONS_INLINE = 40, 10
_PER_ROW = 5
_LABEL = 40
_PAYLOAD = 255
_COLORS = frozenset({"primary", "secondary", "positive", "negative"})
# Action types and the fields each may carry (VK refuses unknown fields).
_ACTIONS: dict[str, frozenset[str]] = {
    "text": frozenset({"type", "label", "payload"}),
    "callback": frozenset({"type", "label", "payload"}),
    "open_link": frozenset({"type", "label", "payload", "link"}),
    "location": frozenset({"type", "payload"}),
    "vkpay": frozenset({"type", "payload", "hash"}),
    "open_app": frozenset({"type", "label", "payload", "app_id", "owner_id", "hash"}),
}
_LABELLED = frozenset({"text", "callback", "open_link", "open_app"})


def _invalid(detail: str) -> ApiError:
    return ApiError(911, f"Keyboard format is invalid: {detail}")


def parse_keyboard(raw: str) -> dict[str, Any]:
    """Check `raw` (the `keyboard` parameter) as VK does; return the keyboard object.

    :raises ApiError: 100 if it is not JSON, 911 naming the first rule broken.
    """
    try:
        keyboard = json.loads(raw)
    except ValueError:
        raise invalid_param("keyboard contains incorrect JSON") from None
    if not isinstance(keyboard, dict):
        raise _invalid("keyboard should be object")
    unknown = keyboard.keys() - {"one_time", "inline", "buttons"}
    if unknown:
        raise _invalid(f"keyboard contains unknown fields: {', '.join(sorted(unknown))}")
    for flag in ("one_time", "inline"):
        if not isinstance(keyboard.get(flag, False), bool):
            raise _invalid(f"{flag} should be boolean")
    rows = keyboard.get("buttons")
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _invalid("buttons should be array of arrays")
    inline = keyboard.get("inline", False)
    max_rows = _ROWS_INLINE if inline else _ROWS
    if len(rows) > max_rows:
        raise _invalid(f"keyboard contains too much rows: {len(rows)}, max is {max_rows}")
    total = sum(len(r) for r in rows)
    max_buttons = _BUTTONS_INLINE if inline else _BUTTONS
    if total > max_buttons:
        raise _invalid(f"keyboard contains too much buttons: {total}, max is {max_buttons}")
    for r, row in enumerate(rows):
        if not row:
            raise _invalid(f"row {r} is empty")
        if len(row) > _PER_ROW:
            raise _invalid(f"row {r} contains too much columns")
        for c, button in enumerate(row):
            _check_button(button, f"button [{r}][{c}]")
    return keyboard


def _check_button(button: Any, where: str) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("action"), dict):
        raise _invalid(f"{where} should have an action object")
    action = button["action"]
    kind = action.get("type")
    if kind not in _ACTIONS:
        raise _invalid(f"{where} has unknown action type {kind!r}")
    if action.keys() - _ACTIONS[kind]:
        raise _invalid("action contains unknown fields")
    if kind in _LABELLED:
        label = action.get("label")
        if not isinstance(label, str) or not label:
            raise _invalid(f"{where} label should be at least 1 letters length")
        if len(label) > _LABEL:
            raise _invalid(f"{where} label should be not more than {_LABEL} letters length")
    payload = action.get("payload")
    if payload is not None:
        if not isinstance(payload, str):
            raise _invalid(f"{where} payload should be string")
        if len(payload) > _PAYLOAD:
            raise _invalid(f"{where} payload should be not more than {_PAYLOAD} letters length")
        try:
            json.loads(payload)
        except ValueError:
            raise _invalid(f"{where} payload should be valid JSON") from None
    color = button.get("color")
    if color is not None and (kind not in ("text", "callback") or color not in _COLORS):
        raise _invalid(f"{where} has invalid color {color!r}")


def place(messages: list[LiveMessage], message: LiveMessage) -> None:
    """Add `message`; a standard keyboard (an empty one too) replaces the peer's previous one."""
    keyboard = message.keyboard
    if keyboard is not None and not keyboard.get("inline", False):
        for old in messages:
            if (
                old.group_id == message.group_id
                and old.peer_id == message.peer_id
                and old.keyboard is not None
                and not old.keyboard.get("inline", False)
            ):
                old.keyboard = None
        if not keyboard.get("buttons"):
            message.keyboard = None  # `{"buttons": []}` only removes
    messages.append(message)


def labels(message: LiveMessage) -> list[str]:
    """The labels of the message's buttons, row by row."""
    rows = (message.keyboard or {}).get("buttons", [])
    return [b["action"].get("label", "") for row in rows for b in row]


def find_button(
    messages: list[LiveMessage],
    group_id: int,
    peer_id: int,
    label: str,
    conversation_message_id: int | None,
) -> tuple[LiveMessage, dict[str, Any]]:
    """The newest pressable button labelled `label` in the conversation (or in one message).

    :raises FakeVKError: if there is none; the message lists the labels there are.
    """
    shown = [
        m
        for m in reversed(messages)
        if m.group_id == group_id
        and m.peer_id == peer_id
        and m.keyboard
        and conversation_message_id in (None, m.conversation_message_id)
    ]
    for message in shown:
        for row in (message.keyboard or {}).get("buttons", []):
            for button in row:
                if button["action"].get("label") == label:
                    return message, button
    there = ", ".join(repr(x) for m in shown for x in labels(m)) or "none"
    raise FakeVKError(
        f"no keyboard of group {group_id} in conversation {peer_id} has a button {label!r}; "
        f"buttons there: {there}"
    )


def press_object(
    message: LiveMessage, button: dict[str, Any], user_id: int
) -> tuple[str, dict[str, Any]]:
    """The update type and object VK sends for `user_id` pressing `button` of `message`.

    A text button sends the label as a `message_new` (the caller builds it
    from the returned object's fields); a callback button sends a
    `message_event` with a fresh 12-hex `event_id` and the payload as an
    object, as real captures show.

    :raises FakeVKError: for a button that is neither text nor callback.
    """
    action = button["action"]
    payload = action.get("payload")
    kind = action["type"]
    if kind == "callback":
        return "message_event", {
            "user_id": user_id,
            "peer_id": message.peer_id,
            "event_id": secrets.token_hex(6),
            "payload": json.loads(payload) if payload is not None else None,
            "conversation_message_id": message.conversation_message_id,
        }
    if kind != "text":
        raise FakeVKError(f"FakeVK presses text and callback buttons, not {kind!r} ones")
    keyboard = message.keyboard or {}
    if keyboard.get("one_time") and not keyboard.get("inline"):
        message.keyboard = None  # hidden after a press, as VK's clients do
    return "message_new", {"text": action["label"], "payload": payload}
