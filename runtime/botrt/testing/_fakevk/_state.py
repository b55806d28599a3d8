"""What FakeVK knows and has seen: communities, users, accepted calls, counters.

Every endpoint reads and writes one `State`; the endpoints themselves hold
nothing but references to it, so `FakeVK` can expose the lot for inspection.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import anyio

from botrt._errors import BotrtError

#: The Long Poll `ts` of a group with no events; `ts - LP_BASE_TS` indexes its events.
LP_BASE_TS = 1000

#: VK's messages for the "user cannot be reached" errors of `messages.send`.
UNREACHABLE_TEXT = {
    900: "Can't send messages for users from blacklist",
    901: "Can't send messages for users without permission",
    902: "Can't send messages to this user due to their privacy settings",
}


class FakeVKError(BotrtError):
    """FakeVK was used wrongly (an unknown group, a wait that timed out, ...)."""


# Outside botrt's tree: the fake server turns it into VK's error JSON; no caller sees it.
class ApiError(Exception):
    """A VK API error a method answers with: `{"error_code": code, "error_msg": message}`."""

    def __init__(self, code: int, message: str) -> None:
        """Remember VK's error code and message."""
        super().__init__(message)
        self.code = code
        self.message = message


def invalid_param(detail: str) -> ApiError:
    """Return VK's error 100 for a missing or invalid parameter, explained by `detail`."""
    return ApiError(100, f"One of the parameters specified was missing or invalid: {detail}")


def injected_text(code: int) -> str:
    """Return the message of an injected or blocking error `code`."""
    return UNREACHABLE_TEXT.get(code, f"Injected error {code}")


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message FakeVK accepted through `messages.send`."""

    group_id: int
    peer_id: int
    text: str
    attachment: str | None
    random_id: int
    message_id: int
    conversation_message_id: int
    params: dict[str, str] = field(default_factory=dict)
    keyboard: dict[str, Any] | None = None

    @property
    def forward(self) -> dict[str, Any] | None:
        """The `forward` parameter it was sent with, decoded; None without one."""
        raw = self.params.get("forward")
        return json.loads(raw) if raw else None


@dataclass
class LiveMessage:
    """A message as its conversation shows it now: text and keyboard after edits and presses.

    Attributes:
        group_id, peer_id, message_id, conversation_message_id: which message.
        text: its text now.
        keyboard: its keyboard object now, None without one (a standard
            keyboard becomes None once a later one replaced it or, when
            one-time, once a text button of it was pressed).
        edits: how many times `messages.edit` changed it.
    """

    group_id: int
    peer_id: int
    message_id: int
    conversation_message_id: int
    text: str
    keyboard: dict[str, Any] | None = None
    edits: int = 0


@dataclass(frozen=True, slots=True)
class Activity:
    """A `messages.setActivity` FakeVK accepted (the "typing..." a chat shows)."""

    group_id: int
    peer_id: int
    type: str


@dataclass(frozen=True, slots=True)
class EventAnswer:
    """A `messages.sendMessageEventAnswer` FakeVK received."""

    group_id: int
    event_id: str
    user_id: int
    peer_id: int
    event_data: Any


@dataclass(frozen=True, slots=True)
class SavedDoc:
    """A document FakeVK stored through `docs.save`; `attachment` names it in `messages.send`."""

    group_id: int
    owner_id: int
    doc_id: int
    title: str
    filename: str
    data: bytes
    peer_id: int | None
    tags: str

    @property
    def attachment(self) -> str:
        """The `doc<owner>_<id>` string to pass as `messages.send(attachment=...)`."""
        return f"doc{self.owner_id}_{self.doc_id}"


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file posted to an upload URL, waiting for `docs.save` to turn it into a document."""

    group_id: int
    peer_id: int | None
    filename: str
    data: bytes


@dataclass
class Group:
    """A registered community: its token, members, Long Poll queue and message counters."""

    group_id: int
    token: str
    members: list[int]
    managers: dict[int, str]
    key: str = field(default_factory=lambda: secrets.token_hex(20))
    events: list[dict[str, Any]] = field(default_factory=list)
    lp_failures: deque[int] = field(default_factory=deque)
    changed: anyio.Event = field(default_factory=anyio.Event)
    next_message_id: int = 1
    conversation_ids: Counter[int] = field(default_factory=Counter)
    # Community-wide message id -> its conversation (chats have none: VK gives 0 there).
    message_ids: dict[int, int] = field(default_factory=dict)
    # VK drops a repeated random_id to the same peer among the last 100 messages.
    random_ids: dict[int, dict[int, tuple[int, int]]] = field(default_factory=dict)

    @property
    def ts(self) -> int:
        """The Long Poll `ts` after the last queued event."""
        return LP_BASE_TS + len(self.events)

    def notify(self) -> None:
        """Wake every Long Poll request waiting on this group."""
        old, self.changed = self.changed, anyio.Event()
        old.set()


@dataclass
class State:
    """Everything FakeVK's endpoints share; see `FakeVK` for the public parts."""

    rate_limit: int
    longpoll_wait_cap: float
    base_url: str = ""
    closing: bool = False
    groups: dict[int, Group] = field(default_factory=dict)
    tokens: dict[str, Group] = field(default_factory=dict)
    users: dict[int, tuple[str, str]] = field(default_factory=dict)
    blocked: dict[int, int] = field(default_factory=dict)
    sent: list[SentMessage] = field(default_factory=list)
    # Every message as its conversation shows it now (edits, keyboards).
    messages: list[LiveMessage] = field(default_factory=list)
    event_answers: list[EventAnswer] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    docs: list[SavedDoc] = field(default_factory=list)
    # Upload URL key -> (group id, peer id) it was issued for.
    upload_urls: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    # The `file` string an upload answered -> what was uploaded; used up by docs.save.
    uploads: dict[str, UploadedFile] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    longpoll_requests: int = 0
    # Per token: when each request of the last second arrived.
    windows: dict[str, deque[float]] = field(default_factory=dict)
    changed: anyio.Event = field(default_factory=anyio.Event)

    def group(self, group_id: int) -> Group:
        """Return the registered group `group_id`.

        :raises FakeVKError: if no group `group_id` was added.
        """
        try:
            return self.groups[group_id]
        except KeyError:
            raise FakeVKError(f"group {group_id} is not registered; call add_group") from None

    def user(self, item: dict[str, Any]) -> dict[str, Any]:
        """Return `item` (which has an `id`) with that user's name fields added."""
        first, last = self.users.get(item["id"], ("User", str(item["id"])))
        return {
            **item,
            "first_name": first,
            "last_name": last,
            "can_access_closed": True,
            "is_closed": False,
        }

    def note_change(self) -> None:
        """Wake `FakeVK.wait_for` callers so they check their predicate again."""
        old, self.changed = self.changed, anyio.Event()
        old.set()
