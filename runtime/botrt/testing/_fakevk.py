"""FakeVK: a loopback HTTP server that speaks VK's wire format, for offline tests.

It serves the API methods botrt uses (`/method/<name>`), the Bots Long Poll
endpoint (`/lp/<group_id>`), and sends Callback API requests, with VK's
errors, a per-token rate limit and injectable faults::

    async with FakeVK() as vk:
        vk.add_group(1, token="t")
        async with VkApi("t", api_url=vk.api_url) as api:
            await api.messages.send(peer_id=5, message="hi")
        assert vk.sent[0].text == "hi"

`execute` understands the scripts `VkApi` writes, and nothing more::

    script := "return" ( "[" call ( "," call )* "]" | call ) ";"
    call   := "API." namespace "." method "(" [ JSON object ] ")"

Anything else is compile error 12; more than 25 calls is runtime error 13.
An `execute` counts as one request for the rate limit; faults injected with
`fail_next` apply to top-level requests only.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import aiohttp
import anyio
from aiohttp import web

_MAX_TEXT = 4096
_UNREACHABLE_TEXT = {
    900: "Can't send messages for users from blacklist",
    901: "Can't send messages for users without permission",
    902: "Can't send messages to this user due to their privacy settings",
}
_LP_BASE_TS = 1000
_EXECUTE_MAX = 25
_CALL_START = re.compile(r"API\.([A-Za-z]+)\.([A-Za-z]+)\(")


class FakeVKError(Exception):
    """FakeVK was used wrongly (an unknown group, a wait that timed out, ...)."""


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


@dataclass(frozen=True, slots=True)
class EventAnswer:
    """A `messages.sendMessageEventAnswer` FakeVK received."""

    group_id: int
    event_id: str
    user_id: int
    peer_id: int
    event_data: Any


@dataclass(frozen=True, slots=True)
class CallbackResponse:
    """What a Callback API server answered to one delivery attempt (status 0: no answer)."""

    status: int
    text: str
    retry_counter: int | None


class _ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Fault:
    http_status: int | None
    vk_error: int | None
    times: int


@dataclass
class _Group:
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
    # VK drops a repeated random_id to the same peer among the last 100 messages.
    random_ids: dict[int, dict[int, tuple[int, int]]] = field(default_factory=dict)

    @property
    def ts(self) -> int:
        return _LP_BASE_TS + len(self.events)

    def notify(self) -> None:
        old, self.changed = self.changed, anyio.Event()
        old.set()


class FakeVK:
    """A fake VK on 127.0.0.1, for `async with`; see the module docstring.

    Attributes:
        sent: every message accepted, in order.
        event_answers: every `messages.sendMessageEventAnswer` accepted.
        calls: API requests received, by method (failed ones included).
        rate_limited: requests refused with error 6.
        longpoll_requests: `a_check` requests received.
    """

    def __init__(self, *, rate_limit: int = 20, longpoll_wait_cap: float = 1.0) -> None:
        """Configure the server; it starts on `async with` (or `start`)."""
        self.rate_limit = rate_limit
        self.longpoll_wait_cap = longpoll_wait_cap
        self.sent: list[SentMessage] = []
        self.event_answers: list[EventAnswer] = []
        self.calls: Counter[str] = Counter()
        self.rate_limited = 0
        self.longpoll_requests = 0
        self._groups: dict[int, _Group] = {}
        self._tokens: dict[str, _Group] = {}
        self._users: dict[int, tuple[str, str]] = {}
        self._blocked: dict[int, int] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._drops: Counter[str] = Counter()
        self._delay = 0.0
        self._windows: dict[str, deque[float]] = {}
        self._changed = anyio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._base_url = ""

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Start listening on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/method/{method}", self._api)
        app.router.add_get("/lp/{group_id}", self._longpoll)
        # No access log: VK's side of the wire would print Long Poll keys.
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self._base_url = f"http://{host}:{port}"

    async def close(self) -> None:
        """Wake every waiting Long Poll request and stop the server."""
        self._closing = True
        for group in self._groups.values():
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
        """The URL to give `VkApi(api_url=...)`."""
        if not self._base_url:
            raise FakeVKError("FakeVK is not started; use `async with FakeVK() as vk`")
        return f"{self._base_url}/method"

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
        group = _Group(group_id, token, list(members), dict(managers or {}))
        self._groups[group_id] = group
        self._tokens[token] = group

    def add_user(self, user_id: int, first_name: str = "", last_name: str = "") -> None:
        """Give a user a name for `users.get` and `groups.getMembers(fields=...)`."""
        self._users[user_id] = (first_name or "User", last_name or str(user_id))

    def block(self, user_id: int, code: int = 901) -> None:
        """Make `messages.send` to `user_id` fail with `code` (900, 901, 902)."""
        self._blocked[user_id] = code

    # -- faults ------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        http_status: int | None = None,
        vk_error: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` requests for `method` fail.

        `method` is an API method name or `"longpoll"` for `a_check`. With
        `http_status` the server answers that status with an HTML body; with
        `vk_error`, VK's error object with that code.
        """
        if (http_status is None) == (vk_error is None):
            raise FakeVKError("give exactly one of http_status and vk_error")
        self._faults.setdefault(method, deque()).append(_Fault(http_status, vk_error, times))

    def drop_next_connection(self, method: str = "*", *, times: int = 1) -> None:
        """Close the connection, unanswered, on the next `times` requests for `method`.

        `method` is an API method name, `"longpoll"`, or `"*"` for any request.
        """
        self._drops[method] += times

    def slow(self, seconds: float) -> None:
        """Delay every answer by `seconds` from now on (0 to stop)."""
        self._delay = seconds

    def fail_longpoll(self, code: int, *, group_id: int | None = None) -> None:
        """Make the next `a_check` of the group answer `{"failed": code}` (1, 2 or 3).

        A request already waiting answers at once. 2 and 3 also expire the
        key, as VK does; 1 carries the current `ts`.
        """
        groups = [self._group(group_id)] if group_id is not None else self._groups.values()
        for group in groups:
            group.lp_failures.append(code)
            group.notify()

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
    ) -> dict[str, Any]:
        """Return a `message_new` update shaped like VK's (API 5.199), without pushing it."""
        group = self._group(group_id)
        peer = from_id if peer_id is None else peer_id
        group.conversation_ids[peer] += 1
        message: dict[str, Any] = {
            "date": int(time.time()),
            "from_id": from_id,
            "id": 0 if peer >= 2_000_000_000 else group.next_message_id,
            "out": 0,
            "attachments": [dict(a) for a in attachments],
            "conversation_message_id": group.conversation_ids[peer],
            "fwd_messages": [],
            "important": False,
            "is_hidden": False,
            "peer_id": peer,
            "random_id": 0,
            "text": text,
        }
        group.next_message_id += 1
        if payload is not None:
            message["payload"] = payload if isinstance(payload, str) else json.dumps(payload)
        client_info = {
            "button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback"],
            "keyboard": True,
            "inline_keyboard": True,
            "carousel": True,
            "lang_id": 0,
        }
        return self._envelope(
            group_id, "message_new", {"message": message, "client_info": client_info}
        )

    def push(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """Queue `update` for the Long Poll of its `group_id`; return it."""
        group = self._group(int(update["group_id"]))
        stored = dict(update)
        group.events.append(stored)
        group.notify()
        return stored

    def push_message(
        self, group_id: int, from_id: int, text: str, peer_id: int | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Build a `message_new` (see `build_message`) and queue it; return it."""
        return self.push(self.build_message(group_id, from_id, text, peer_id=peer_id, **kwargs))

    def push_event(self, group_id: int, type_: str, object_: Mapping[str, Any]) -> dict[str, Any]:
        """Queue an update of any `type_` with `object_`; return it."""
        return self.push(self._envelope(group_id, type_, dict(object_)))

    def make_event(self, group_id: int, type_: str, object_: Mapping[str, Any]) -> dict[str, Any]:
        """Return an update of any `type_` with a fresh 40-hex `event_id`, without pushing it."""
        self._group(group_id)
        return self._envelope(group_id, type_, dict(object_))

    def _envelope(self, group_id: int, type_: str, object_: dict[str, Any]) -> dict[str, Any]:
        return {
            "group_id": group_id,
            "type": type_,
            "event_id": secrets.token_hex(20),
            "v": "5.199",
            "object": object_,
        }

    # -- Callback API sender -----------------------------------------------

    async def deliver_callback(
        self,
        url: str,
        update: Mapping[str, Any],
        *,
        secret: str | None = None,
        retries: int = 0,
        retry_counter: int | None = None,
        request_timeout: float = 5.0,
    ) -> list[CallbackResponse]:
        """POST `update` to `url` as VK's Callback API does; return every answer.

        `secret`, if given, is put in the body. Without an `ok` (or, for a
        `confirmation`, without a 200) the update is sent again, up to
        `retries` times and at once, with `X-Retry-Counter` counting the
        failed attempts; `retry_counter` makes even the first attempt look
        like a retry.
        """
        body = dict(update)
        if secret is not None:
            body["secret"] = secret
        data = json.dumps(body, ensure_ascii=False).encode()
        answers: list[CallbackResponse] = []
        counter = retry_counter
        async with aiohttp.ClientSession() as session:
            for _ in range(retries + 1):
                headers = {"Content-Type": "application/json"}
                if counter:
                    headers["X-Retry-Counter"] = str(counter)
                try:
                    async with session.post(
                        url,
                        data=data,
                        headers=headers,
                        timeout=aiohttp.ClientTimeout(request_timeout),
                    ) as response:
                        answer = CallbackResponse(response.status, await response.text(), counter)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    answer = CallbackResponse(0, type(exc).__name__, counter)
                answers.append(answer)
                accepted = answer.status == 200 and (
                    answer.text == "ok" or body.get("type") == "confirmation"
                )
                if accepted:
                    break
                counter = (counter or 0) + 1
        return answers

    # -- inspection --------------------------------------------------------

    def sent_to(self, peer_id: int) -> list[SentMessage]:
        """Return the messages sent to `peer_id`, in order."""
        return [m for m in self.sent if m.peer_id == peer_id]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until `predicate()` is true; it is checked after each request.

        Bound the wait with `anyio.fail_after`.
        """
        while not predicate():
            await self._changed.wait()

    def _group(self, group_id: int) -> _Group:
        try:
            return self._groups[group_id]
        except KeyError:
            raise FakeVKError(f"group {group_id} is not registered; call add_group") from None

    def _note_change(self) -> None:
        old, self._changed = self._changed, anyio.Event()
        old.set()

    # -- HTTP: faults shared by both endpoints ------------------------------

    async def _faulty(self, request: web.Request, name: str) -> web.Response | None:
        for key in (name, "*"):
            if self._drops[key] > 0:
                self._drops[key] -= 1
                if request.transport is not None:
                    request.transport.close()
                return web.Response(text="dropped")
        if self._delay:
            await anyio.sleep(self._delay)
        queue = self._faults.get(name)
        if queue and queue[0].http_status is not None:
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.popleft()
            return web.Response(
                status=fault.http_status, text="<html>error</html>", content_type="text/html"
            )
        return None

    def _take_vk_fault(self, name: str) -> int | None:
        queue = self._faults.get(name)
        if not queue or queue[0].vk_error is None:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault.vk_error

    # -- HTTP: the API -----------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls[method] += 1
        try:
            early = await self._faulty(request, method)
            if early is not None:
                return early
            params: dict[str, str] = dict(request.query)
            if request.method == "POST":
                params.update({k: str(v) for k, v in (await request.post()).items()})
            token = params.pop("access_token", "")
            try:
                body = self._answer(method, token, params)
            except _ApiError as err:
                body = {"error": _error_object(err, method, params)}
            return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))
        finally:
            self._note_change()

    def _answer(self, method: str, token: str, params: dict[str, str]) -> dict[str, Any]:
        group = self._tokens.get(token)
        if group is None:
            raise _ApiError(5, "User authorization failed: invalid access_token (4).")
        if "v" not in params:
            raise _ApiError(8, "Invalid request: v (version) is required")
        window = self._windows.setdefault(token, deque())
        now = time.monotonic()
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= self.rate_limit:
            self.rate_limited += 1
            raise _ApiError(6, "Too many requests per second")
        window.append(now)
        code = self._take_vk_fault(method)
        if code is not None:
            raise _ApiError(code, _UNREACHABLE_TEXT.get(code, f"Injected error {code}"))
        if method == "execute":
            return self._execute(group, params)
        return {"response": self._dispatch(group, method, params)}

    def _dispatch(self, group: _Group, method: str, params: dict[str, str]) -> Any:
        handlers: dict[str, Callable[[_Group, dict[str, str]], Any]] = {
            "messages.send": self._messages_send,
            "messages.sendMessageEventAnswer": self._send_event_answer,
            "messages.setActivity": lambda g, p: 1,
            "groups.getMembers": self._get_members,
            "groups.getLongPollServer": self._get_longpoll_server,
            "users.get": self._users_get,
        }
        handler = handlers.get(method)
        if handler is None:
            raise _ApiError(3, "Unknown method passed")
        try:
            return handler(group, params)
        except (KeyError, ValueError) as exc:
            raise _ApiError(
                100, f"One of the parameters specified was missing or invalid: {exc}"
            ) from None

    def _messages_send(self, group: _Group, p: dict[str, str]) -> Any:
        if "random_id" not in p:
            raise _ApiError(
                100,
                "One of the parameters specified was missing or invalid: "
                "random_id is a required parameter",
            )
        text = p.get("message", "")
        if not text and not p.get("attachment") and not p.get("sticker_id"):
            raise _ApiError(
                100,
                "One of the parameters specified was missing or invalid: "
                "message is empty or invalid",
            )
        if len(text) > _MAX_TEXT:
            raise _ApiError(914, "Message is too long")
        if "peer_ids" in p:
            peers = _int_list(p["peer_ids"])
            if not peers or len(peers) > 100:
                raise ValueError("peer_ids must hold 1 to 100 ids")
            return [self._send_one(group, peer, p) for peer in peers]
        peer = int(p.get("peer_id") or p["user_id"])
        item = self._send_one(group, peer, p)
        if "error" in item:
            raise _ApiError(item["error"]["code"], item["error"]["description"])
        return item["message_id"]

    def _send_one(self, group: _Group, peer: int, p: dict[str, str]) -> dict[str, Any]:
        code = self._blocked.get(peer)
        if code is not None:
            text = _UNREACHABLE_TEXT.get(code, f"Injected error {code}")
            return {"peer_id": peer, "error": {"code": code, "description": text}}
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
        )
        self.sent.append(sent)
        return {
            "peer_id": peer,
            "message_id": message_id,
            "conversation_message_id": sent.conversation_message_id,
        }

    def _send_event_answer(self, group: _Group, p: dict[str, str]) -> int:
        data = json.loads(p["event_data"]) if p.get("event_data") else None
        self.event_answers.append(
            EventAnswer(group.group_id, p["event_id"], int(p["user_id"]), int(p["peer_id"]), data)
        )
        return 1

    def _get_members(self, group: _Group, p: dict[str, str]) -> dict[str, Any]:
        target = self._groups.get(int(p.get("group_id", group.group_id)))
        if target is None:
            raise _ApiError(125, "Invalid group id")
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
            page = [self._user({"id": i} if isinstance(i, int) else i) for i in page]
        return {"count": len(items), "items": page}

    def _user(self, item: dict[str, Any]) -> dict[str, Any]:
        first, last = self._users.get(item["id"], ("User", str(item["id"])))
        return {
            **item,
            "first_name": first,
            "last_name": last,
            "can_access_closed": True,
            "is_closed": False,
        }

    def _users_get(self, group: _Group, p: dict[str, str]) -> list[dict[str, Any]]:
        return [self._user({"id": uid}) for uid in _int_list(p["user_ids"])]

    def _get_longpoll_server(self, group: _Group, p: dict[str, str]) -> dict[str, str]:
        if int(p["group_id"]) != group.group_id:
            raise _ApiError(15, "Access denied: no access to this group")
        server = f"{self._base_url}/lp/{group.group_id}"
        return {"key": group.key, "server": server, "ts": str(group.ts)}

    def _execute(self, group: _Group, p: dict[str, str]) -> dict[str, Any]:
        try:
            calls, many = _parse_script(p["code"])
        except (KeyError, ValueError):
            raise _ApiError(12, "Unable to compile code") from None
        if len(calls) > _EXECUTE_MAX:
            raise _ApiError(13, "Runtime error occurred during code invocation: too many API calls")
        results: list[Any] = []
        errors: list[dict[str, Any]] = []
        for method, args in calls:
            inner = {k: _form_value(v) for k, v in args.items()}
            try:
                results.append(self._dispatch(group, method, inner))
            except _ApiError as err:
                results.append(False)
                errors.append({"method": method, "error_code": err.code, "error_msg": err.message})
        body: dict[str, Any] = {"response": results if many else results[0]}
        if errors:
            body["execute_errors"] = errors
        return body

    # -- HTTP: Bots Long Poll ----------------------------------------------

    async def _longpoll(self, request: web.Request) -> web.Response:
        early = await self._faulty(request, "longpoll")
        if early is not None:
            return early
        self.longpoll_requests += 1
        self._note_change()
        group = self._groups.get(int(request.match_info["group_id"]))
        query = request.query
        if group is None or query.get("act") != "a_check":
            return web.Response(status=404, text="not found")
        try:
            ts = int(query.get("ts", ""))
            wait = float(query.get("wait", "25"))
        except ValueError:
            return web.json_response({"failed": 1, "ts": group.ts})
        deadline = anyio.current_time() + min(wait, self.longpoll_wait_cap)
        while True:
            if group.lp_failures:
                return web.json_response(_failure(group, group.lp_failures.popleft()))
            if query.get("key") != group.key:
                return web.json_response({"failed": 2})
            if group.ts > ts or self._closing:
                break
            with anyio.move_on_after(deadline - anyio.current_time()) as scope:
                await group.changed.wait()
            if scope.cancelled_caught:
                break
        updates = group.events[max(ts - _LP_BASE_TS, 0) :]
        return web.json_response({"ts": str(group.ts), "updates": updates})


def _failure(group: _Group, code: int) -> dict[str, Any]:
    if code == 1:
        return {"failed": 1, "ts": group.ts}
    group.key = secrets.token_hex(20)
    return {"failed": code}


def _error_object(err: _ApiError, method: str, params: Mapping[str, str]) -> dict[str, Any]:
    request_params = [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
    request_params += [{"key": k, "value": v} for k, v in params.items() if k != "code"]
    return {"error_code": err.code, "error_msg": err.message, "request_params": request_params}


def _int_list(value: str) -> list[int]:
    return [int(part) for part in value.split(",") if part.strip()]


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _parse_script(code: str) -> tuple[list[tuple[str, dict[str, Any]]], bool]:
    decoder = json.JSONDecoder()
    pos = _skip(code, 0)
    if not code.startswith("return", pos):
        raise ValueError("expected 'return'")
    pos = _skip(code, pos + len("return"))
    many = code.startswith("[", pos)
    if many:
        pos = _skip(code, pos + 1)
    calls: list[tuple[str, dict[str, Any]]] = []
    while True:
        match = _CALL_START.match(code, pos)
        if match is None:
            raise ValueError(f"expected an API call at {pos}")
        pos = _skip(code, match.end())
        args: Any = {}
        if not code.startswith(")", pos):
            args, pos = decoder.raw_decode(code, pos)
            pos = _skip(code, pos)
        if not isinstance(args, dict) or not code.startswith(")", pos):
            raise ValueError(f"expected a JSON object and ')' at {pos}")
        calls.append((f"{match.group(1)}.{match.group(2)}", args))
        pos = _skip(code, pos + 1)
        if many and code.startswith(",", pos):
            pos = _skip(code, pos + 1)
            continue
        break
    if many:
        if not code.startswith("]", pos):
            raise ValueError("expected ']'")
        pos = _skip(code, pos + 1)
    if code.startswith(";", pos):
        pos = _skip(code, pos + 1)
    if pos != len(code):
        raise ValueError(f"unexpected text at {pos}")
    return calls, many


def _skip(code: str, pos: int) -> int:
    while pos < len(code) and code[pos].isspace():
        pos += 1
    return pos
