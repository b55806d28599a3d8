"""The like-for-like VK workload: the same raw updates in, the same HTTP session seam out.

Standard library only: every framework's driver imports it from its own venv.

- Updates are VK's Bots Long Poll ``message_new`` dicts in the API 5.103+
  shape, copied from a live capture (``shared/vk-payloads``
  ``05_bots_longpoll_response_message_new_real.json``) with the ``version``
  field VK sends today (vkbottle's types require it). Update i comes from
  user ``USER0 + i % USERS`` in a private chat, says ``_workload.text(i)``, and
  has its own ``event_id`` and message ids.
- The handler of command k replies ``cmdKK`` to the message's conversation
  with ``messages.send``; the check compares every reply, in order, with the
  update it answers (peer and text), not only their count.
- Each framework's HTTP client session is replaced by `StubSession`, which
  stands in for ``aiohttp.ClientSession``: the framework's whole API path (its
  request building, form data, token, response parsing) runs down to the
  session's ``post``/``request``, which answers as VK does, from memory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

USERS = 100
USER0 = 326596496
GROUP_ID = 202308925
TOKEN = "stub-token"

# The capture's client_info, shared by every update (no framework writes to it).
CLIENT_INFO: dict[str, Any] = {
    "button_actions": [
        "text",
        "vkpay",
        "open_app",
        "location",
        "open_link",
        "open_photo",
        "callback",
        "intent_subscribe",
        "intent_unsubscribe",
    ],
    "keyboard": True,
    "inline_keyboard": True,
    "carousel": True,
    "lang_id": 0,
}


def peer(i: int) -> int:
    """The user (and private-chat peer) who sends update i."""
    return USER0 + i % USERS


def update(i: int, text: str) -> dict[str, Any]:
    """Update i: a fresh ``message_new`` dict, as VK's JSON decodes to."""
    user = peer(i)
    return {
        "type": "message_new",
        "object": {
            "message": {
                "date": 1612685621 + i,
                "from_id": user,
                "id": i + 1,
                "out": 0,
                "version": 10000001 + i,
                "peer_id": user,
                "text": text,
                "conversation_message_id": i + 1,
                "fwd_messages": [],
                "important": False,
                "random_id": 0,
                "attachments": [],
                "is_hidden": False,
            },
            "client_info": CLIENT_INFO,
        },
        "group_id": GROUP_ID,
        "event_id": f"{i:040x}",
    }


def reply_text(text: str) -> str:
    """What the handler replies to `text` (``/cmd07`` → ``cmd07``)."""
    return text.lstrip("/")


class StubResponse:
    """The part of ``aiohttp.ClientResponse`` the frameworks read: status and body."""

    __slots__ = ("_body",)
    status = 200
    content_type = "application/json"

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def read(self) -> bytes:
        return self._body

    async def text(self, encoding: str | None = None, **_: Any) -> str:
        return self._body.decode(encoding or "utf-8")

    async def json(
        self, *, loads: Callable[[str], Any] = json.loads, encoding: str | None = None, **_: Any
    ) -> Any:
        return loads(self._body.decode(encoding or "utf-8"))

    def raise_for_status(self) -> None:
        return None

    def release(self) -> None:
        return None


class _Exchange:
    """What ``session.post(...)`` returns: awaitable, and an async context manager."""

    __slots__ = ("_answer",)

    def __init__(self, answer: Any) -> None:
        self._answer = answer

    def __await__(self) -> Any:
        return self._answer.__await__()

    async def __aenter__(self) -> StubResponse:
        return await self._answer  # type: ignore[no-any-return]

    async def __aexit__(self, *exc: object) -> None:
        return None


class StubSession:
    """Stands in for ``aiohttp.ClientSession``: VK's API answered from memory.

    ``messages.send`` is recorded as ``(peer_id, message)`` in `replies` and
    answered as VK answers it (a message id, or one item per peer for
    ``peer_ids``); ``groups.getLongPollServer`` gets a server; a request to
    that server (a Long Poll wait) never returns, as when no update comes;
    ``groups.getMembers`` finds no members; any other method gets
    ``{"response": 1}``. `on_reply`, when set, is called after each reply is
    recorded (the driver waits on it).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.replies: list[tuple[int, str]] = []
        self.on_reply: Callable[[], None] | None = None
        self.closed = False
        self.connector_owner = False  # read by vkbottle at exit: nothing to close

    def post(self, url: str, **kwargs: Any) -> _Exchange:
        return _Exchange(self._answer("POST", url, kwargs))

    def get(self, url: str, **kwargs: Any) -> _Exchange:
        return _Exchange(self._answer("GET", url, kwargs))

    def request(self, method: str, url: str, **kwargs: Any) -> _Exchange:
        return _Exchange(self._answer(method, url, kwargs))

    async def close(self) -> None:
        self.closed = True

    async def _answer(self, verb: str, url: str, kwargs: dict[str, Any]) -> StubResponse:
        head, _, method = url.rpartition("/")
        if not head.endswith("/method"):
            await asyncio.get_running_loop().create_future()  # a Long Poll wait: nothing comes
        data = _form(kwargs.get("data"))
        if method == "messages.send":
            if "peer_ids" in data:
                to = int(str(data["peer_ids"]).split(",")[0])
                body = b'{"response":[{"peer_id":%d,"message_id":1,"conversation_message_id":1}]}'
                body %= to
            else:
                to = int(data["peer_id"])
                body = b'{"response":1}'
            self.replies.append((to, str(data["message"])))
            if self.on_reply is not None:
                self.on_reply()
            return StubResponse(body)
        if method == "groups.getLongPollServer":
            return StubResponse(
                b'{"response":{"key":"k","server":"https://lp.invalid/wh1","ts":"1"}}'
            )
        if method == "groups.getMembers":
            return StubResponse(b'{"response":{"count":0,"items":[]}}')
        return StubResponse(b'{"response":1}')


def _form(data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if isinstance(data, dict):
        return data
    if isinstance(data, str | bytes):
        text = data.decode() if isinstance(data, bytes) else data
        return dict(parse_qsl(text))
    return dict(data)


def check_replies(replies: list[tuple[int, str]], texts: list[str]) -> None:
    """Raise SystemExit unless reply i answers update i: its peer and its text.

    :raises SystemExit: naming the first reply that is missing or wrong.
    """
    if len(replies) != len(texts):
        raise SystemExit(f"expected {len(texts)} replies, got {len(replies)}")
    for i, (text, got) in enumerate(zip(texts, replies, strict=True)):
        want = (peer(i), reply_text(text))
        if got != want:
            raise SystemExit(f"reply {i}: expected {want}, got {got}")
