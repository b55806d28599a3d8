"""`FakeVK`'s buttons: pressing what the bot sent, and listing what can be pressed.

`Presses` is mixed into `FakeVK`; `_keyboards` finds the button and builds the
press, `_updates` the update.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botrt.testing._fakevk import _keyboards, _updates
from botrt.testing._fakevk._state import FakeVKError, Group, State


class Presses:
    """Button presses of `FakeVK` (see the module)."""

    _state: State
    push: Callable[[Mapping[str, Any]], dict[str, Any]]  # `FakeVK.push`

    def make_press(
        self,
        peer_id: int,
        label: str,
        *,
        user_id: int | None = None,
        group_id: int | None = None,
        conversation_message_id: int | None = None,
    ) -> dict[str, Any]:
        """Press a button the bot sent; return VK's update for it, without pushing it.

        The newest keyboard in the conversation (or in the message
        `conversation_message_id`) with a button labelled `label` is pressed,
        as the user `user_id` (default: `peer_id`, for a private
        conversation). A text button gives a `message_new` whose text is the
        label and whose `payload` is the button's JSON string (a one-time
        standard keyboard hides); a callback button gives a `message_event`
        with a fresh 12-hex `event_id`. Deliver it with `push` (Long Poll) or
        `deliver_callback` (Callback API). `group_id` may be left out when
        one group is registered.

        :raises FakeVKError: if there is no such button (the message lists the
            buttons there are), the group is unknown or ambiguous, or a chat
            press names no `user_id`.
        """
        group = self._group_for(group_id)
        if user_id is None:
            if peer_id >= 2_000_000_000:
                raise FakeVKError(f"say which user presses in chat {peer_id}: pass user_id=")
            user_id = peer_id
        message, button = _keyboards.find_button(
            self._state.messages, group.group_id, peer_id, label, conversation_message_id
        )
        type_, obj = _keyboards.press_object(message, button, user_id)
        if type_ == "message_new":
            return _updates.message_new(
                group, user_id, obj["text"], peer_id=peer_id, payload=obj["payload"], attachments=()
            )
        return _updates.envelope(group.group_id, type_, obj)

    def press(
        self,
        peer_id: int,
        label: str,
        *,
        user_id: int | None = None,
        group_id: int | None = None,
        conversation_message_id: int | None = None,
    ) -> dict[str, Any]:
        """Press a button (see `make_press`) and queue the update for Long Poll; return it.

        :raises FakeVKError: as `make_press`.
        """
        return self.push(
            self.make_press(
                peer_id,
                label,
                user_id=user_id,
                group_id=group_id,
                conversation_message_id=conversation_message_id,
            )
        )

    def buttons(self, peer_id: int, *, group_id: int | None = None) -> list[str]:
        """The labels a user can press in the conversation now, newest keyboard first.

        :raises FakeVKError: if the group is unknown or ambiguous.
        """
        gid = self._group_for(group_id).group_id
        shown = [
            m
            for m in reversed(self._state.messages)
            if m.group_id == gid and m.peer_id == peer_id and m.keyboard
        ]
        return [label for m in shown for label in _keyboards.labels(m)]

    def _group_for(self, group_id: int | None) -> Group:
        if group_id is not None:
            return self._state.group(group_id)
        if len(self._state.groups) != 1:
            raise FakeVKError(
                f"{len(self._state.groups)} groups are registered: pass group_id= to say which"
            )
        return next(iter(self._state.groups.values()))
