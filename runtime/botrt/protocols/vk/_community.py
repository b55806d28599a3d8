"""The VK updates that are not messages: `GroupJoin`, `GroupLeave`, and `VkEvent` for the rest."""

from __future__ import annotations

from typing import Any, Required, TypedDict, Unpack

from botrt.adapter import Event
from botrt.protocols.vk._platform import PLATFORM


class _Common(TypedDict, total=False):
    """The keywords every plain VK update takes besides its own fields (see `_Update`)."""

    bot: Required[str]
    group_id: int | None
    event_id: str | None
    raw: dict[str, Any] | None


class _Update(Event):
    """What every plain VK update carries besides its object: the community, its id, the JSON."""

    __slots__ = ("event_id", "group_id", "raw")

    def __init__(
        self,
        *,
        bot: str,
        group_id: int | None = None,
        event_id: str | None = None,
        raw: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(platform=PLATFORM, bot=bot)
        self.group_id = group_id
        self.event_id = event_id
        self.raw: dict[str, Any] = raw or {}


class GroupJoin(_Update):
    """A user joined the community (VK `group_join`).

    Attributes:
        user_id: who joined.
        join_type: VK's `join_type` as delivered (`join`, `unsure`,
            `accepted`, `approved`, `request`, or a value VK adds later).
        group_id, event_id, raw: as for `MessageNew`.
    """

    __slots__ = ("join_type", "user_id")

    def __init__(self, *, user_id: int, join_type: str, **common: Unpack[_Common]) -> None:
        super().__init__(**common)
        self.user_id = user_id
        self.join_type = join_type


class GroupLeave(_Update):
    """A user left the community or was removed (VK `group_leave`).

    Attributes:
        user_id: who left.
        self_left: True if they left on their own, False if they were removed.
        group_id, event_id, raw: as for `MessageNew`.
    """

    __slots__ = ("self_left", "user_id")

    def __init__(self, *, user_id: int, self_left: bool, **common: Unpack[_Common]) -> None:
        super().__init__(**common)
        self.user_id = user_id
        self.self_left = self_left


class VkEvent(_Update):
    """Any VK update botrt has no dedicated type for (`wall_post_new`, ...).

    Attributes:
        type: VK's update type.
        object: the update's `object` (empty for `confirmation`).
        group_id, event_id, raw: as for `MessageNew`.
    """

    __slots__ = ("object", "type")

    def __init__(self, *, type_: str, object_: dict[str, Any], **common: Unpack[_Common]) -> None:
        super().__init__(**common)
        self.type = type_
        self.object = object_

    def __repr__(self) -> str:
        return f"<VkEvent bot={self.bot!r} type={self.type!r} group_id={self.group_id}>"
