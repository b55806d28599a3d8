"""`FakeVK`: the server's lifecycle and routes, its registry, faults and events.

Its bases add button presses (`_presses`) and inspection (`_inspection`). The
work is done elsewhere: `_api` and `_methods` answer API calls, `_longpoll`
serves `a_check`, `_docs` takes uploads, `_callback` sends Callback API
requests; all of them share one `State`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from botrt.testing._fakevk import _callback, _longpoll, _updates
from botrt.testing._fakevk._api import ApiEndpoint
from botrt.testing._fakevk._docs import DocsEndpoint
from botrt.testing._fakevk._faults import Faults
from botrt.testing._fakevk._inspection import Inspection
from botrt.testing._fakevk._longpoll import LongPollEndpoint
from botrt.testing._fakevk._presses import Presses
from botrt.testing._fakevk._state import (
    FakeVKError,
    Group,
    State,
)


class FakeVK(Presses, Inspection):
    """A fake VK on 127.0.0.1, for `async with`; see the package docstring.

    Attributes:
        sent: every message accepted, in order, as sent (`keyboard` parsed;
            `SentMessage.forward` decodes what it forwards; `forward` and
            `forward_messages` are checked as VK checks them, see `_methods.check_forward`).
        messages: the same messages as their conversations show them now.
        activities: every `messages.setActivity` accepted ("typing...").
        event_answers: every `messages.sendMessageEventAnswer` accepted.
        docs: every document stored by `docs.save`, in order.
        calls: API requests received, by method (failed ones included).
        rate_limited: requests refused with error 6.
        longpoll_requests: `a_check` requests received.
        rate_limit: API requests a token may make per second.
        longpoll_wait_cap: the longest an `a_check` waits, whatever its `wait`.

    The numbers can be set (to reset a counter, say); the lists and the
    counter are the live records, to be cleared in place, not replaced.
    """

    def __init__(self, *, rate_limit: int = 20, longpoll_wait_cap: float = 1.0) -> None:
        """Configure the server; it starts on `async with` (or `start`)."""
        self._state = State(rate_limit=rate_limit, longpoll_wait_cap=longpoll_wait_cap)
        self._faults = Faults()
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Start listening on a free port of 127.0.0.1."""
        api = ApiEndpoint(self._state, self._faults)
        longpoll = LongPollEndpoint(self._state, self._faults)
        docs = DocsEndpoint(self._state, self._faults)
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/method/{method}", api.handle)
        app.router.add_get("/lp/{group_id}", longpoll.handle)
        app.router.add_post("/upload/doc/{key}", docs.upload)
        app.router.add_get("/doc/{doc}", docs.download)
        # No access log: VK's side of the wire would print Long Poll keys.
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self._state.base_url = f"http://{host}:{port}"

    async def close(self) -> None:
        """Wake every waiting Long Poll request and stop the server."""
        self._state.closing = True
        for group in self._state.groups.values():
            group.notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def api_url(self) -> str:
        """The URL to give `VkApi(api_url=...)`.

        :raises FakeVKError: if the server is not started.
        """
        if not self._state.base_url:
            raise FakeVKError("FakeVK is not started; use `async with FakeVK() as vk`")
        return f"{self._state.base_url}/method"

    # -- registry ----------------------------------------------------------

    def add_group(
        self,
        group_id: int,
        *,
        token: str,
        members: Iterable[int] = (),
        managers: Mapping[int, str] | None = None,
    ) -> None:
        """Register a community, its token, its members and managers (id → role)."""
        group = Group(group_id, token, list(members), dict(managers or {}))
        self._state.groups[group_id] = group
        self._state.tokens[token] = group

    def add_user(self, user_id: int, first_name: str = "", last_name: str = "") -> None:
        """Give a user a name for `users.get` and `groups.getMembers(fields=...)`."""
        self._state.users[user_id] = (first_name or "User", last_name or str(user_id))

    def block(self, user_id: int, code: int = 901) -> None:
        """Make `messages.send` to `user_id` fail with `code` (900, 901, 902)."""
        self._state.blocked[user_id] = code

    # -- faults ------------------------------------------------------------

    def unblock(self, user_id: int) -> None:
        """Let `messages.send` reach `user_id` again after `block`."""
        self._state.blocked.pop(user_id, None)

    def fail_next(
        self,
        method: str,
        *,
        http_status: int | None = None,
        vk_error: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` requests for `method` fail.

        `method` is an API method name, `"longpoll"` for `a_check`, or
        `"upload"` for the document upload URL. With `http_status` the server
        answers that status with an HTML body; with `vk_error`, VK's error
        object with that code (API methods only).

        :raises FakeVKError: unless exactly one of `http_status` and `vk_error` is given.
        """
        self._faults.fail_next(method, http_status=http_status, vk_error=vk_error, times=times)

    def drop_next_connection(self, method: str = "*", *, times: int = 1) -> None:
        """Close the connection, unanswered, on the next `times` requests for `method`.

        `method` is an API method name, `"longpoll"`, `"upload"`, or `"*"` for any request.
        """
        self._faults.drop_next_connection(method, times)

    def slow(self, seconds: float) -> None:
        """Delay every answer by `seconds` from now on (0 to stop)."""
        self._faults.slow(seconds)

    def hold(self, method: str = "*") -> None:
        """Keep requests for `method` unanswered (not yet recorded) until `release`.

        `method` is an API method name, `"longpoll"`, `"upload"`, or `"*"` for any
        request. A test holds VK still to act at an exact point of the bot's work.
        """
        self._faults.hold(method)

    def release(self, method: str = "*") -> None:
        """Answer the requests `hold` kept for `method`, and hold no more of them."""
        self._faults.release(method)

    def fail_longpoll(self, code: int, *, group_id: int | None = None) -> None:
        """Make the next `a_check` of the group answer `{"failed": code}` (1, 2 or 3).

        A request already waiting answers at once. 2 and 3 also expire the
        key, as VK does; 1 carries the current `ts`. Without `group_id`, every group.

        :raises FakeVKError: if `group_id` is not registered.
        """
        groups = self._state.groups.values() if group_id is None else [self._state.group(group_id)]
        for group in list(groups):
            _longpoll.queue_failure(group, code)

    # -- events ------------------------------------------------------------

    def build_message(
        self,
        group_id: int,
        from_id: int,
        text: str,
        *,
        peer_id: int | None = None,
        payload: Any = None,
        attachments: Iterable[Mapping[str, Any]] = (),
        fwd_messages: Iterable[Mapping[str, Any]] = (),
        reply_message: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Return a `message_new` update shaped like VK's (API 5.199), without pushing it.

        `fwd_messages` and `reply_message` are the messages it forwards or
        answers, as VK delivers them (foreign-message objects). The message
        is numbered in its conversation, so a later `forward` may name it.

        :raises FakeVKError: if `group_id` is not registered.
        """
        return _updates.message_new(
            self._state.group(group_id),
            from_id,
            text,
            peer_id=peer_id,
            payload=payload,
            attachments=attachments,
            fwd_messages=fwd_messages,
            reply_message=reply_message,
        )

    def push(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """Queue `update` for the Long Poll of its `group_id`; return it.

        :raises FakeVKError: if its `group_id` is not registered.
        """
        return _longpoll.push(self._state.group(int(update["group_id"])), update)

    def push_message(
        self, group_id: int, from_id: int, text: str, peer_id: int | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Build a `message_new` (see `build_message`) and queue it; return it."""
        return self.push(self.build_message(group_id, from_id, text, peer_id=peer_id, **kwargs))

    def push_event(self, group_id: int, type_: str, object_: Mapping[str, Any]) -> dict[str, Any]:
        """Queue an update of any `type_` with `object_`; return it.

        :raises FakeVKError: if `group_id` is not registered.
        """
        return self.push(_updates.envelope(group_id, type_, dict(object_)))

    def make_event(self, group_id: int, type_: str, object_: Mapping[str, Any]) -> dict[str, Any]:
        """Return an update of any `type_` with a fresh 40-hex `event_id`, without pushing it.

        :raises FakeVKError: if `group_id` is not registered.
        """
        self._state.group(group_id)
        return _updates.envelope(group_id, type_, dict(object_))

    # -- Callback API sender -----------------------------------------------

    # Sending needs nothing from the server: the sender is the plain function.
    deliver_callback = staticmethod(_callback.deliver_callback)
