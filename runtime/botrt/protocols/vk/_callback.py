"""Callback API: VK POSTs each update to a URL of ours, and we answer `ok`.

`create_callback_app` builds an `aiohttp.web.Application` with one POST route
per bot and a `/healthz` route. The host runs it with a runner it owns::

    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    ...
    await runner.cleanup()   # waits briefly for updates still being handed over

or mounts it into an application of its own with
`root.add_subapp("/prefix", app)` (routes then live under `/prefix`, and the
sub-application's cleanup runs with the root's).
"""

from __future__ import annotations

import asyncio
import codecs
import hmac
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from botrt import _json
from botrt.protocols.vk._dedup import RecentKeys
from botrt.protocols.vk._errors import VkConfigError
from botrt.protocols.vk._longpoll import UpdateSink
from botrt.protocols.vk._rawbody import without_secret

logger = logging.getLogger("botrt.vk.callback")

MAX_BODY_SIZE = 1 << 20
"""Largest request body accepted (1 MiB); bigger bodies get 413."""
HEALTH_PATH = "/healthz"

HealthCheck = Callable[[], Mapping[str, bool]]
"""Returns, for every bot, whether it is connected; `/healthz` is 200 only if all are."""

# VK re-sends an unanswered update after 10 s, 3, 10 and 30 min, then 1 h:
# a key must outlive the last retry, about 1 h 45 min after the first try.
DEFAULT_DEDUP_TTL = 2 * 3600.0
DEFAULT_DEDUP_SIZE = 100_000
MAX_HANDOVERS = 256
"""Hand-over workers waiting in the sink at most; beyond, a request hands its own update over."""


@dataclass(frozen=True, slots=True)
class CallbackBot:
    """One community whose Callback API server points at this application.

    Attributes:
        name: the bot's name (`[[bots]] name`), passed to the sink.
        group_id: the community's id; updates for another group are refused.
        path: the route VK POSTs to, such as `/vk/group1`.
        confirmation: the string VK expects in answer to `confirmation`.
        secret: the secret key set in the community's Callback settings;
            when set, every update must carry it (a `confirmation` without any
            secret is still answered, since VK's docs do not promise one).
    """

    name: str
    group_id: int
    path: str
    confirmation: str
    secret: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        """Check the settings.

        :raises VkConfigError: if the path does not start with `/`, the group
            id is not positive or the confirmation string is empty.
        """
        if not self.path.startswith("/"):
            raise VkConfigError(f"bot {self.name!r}: callback path must start with '/'")
        if isinstance(self.group_id, bool) or int(self.group_id) <= 0:
            raise VkConfigError(f"bot {self.name!r}: group_id must be a positive integer")
        if not self.confirmation:
            raise VkConfigError(f"bot {self.name!r}: the confirmation string is empty")


class CallbackJournal(Protocol):
    """Where accepted updates are recorded before `ok` (the storage's inbox)."""

    async def accept(self, bot: str, update: dict[str, Any], body: str | None = None) -> bool:
        """Record `update` durably; True if new, False if it was recorded before.

        `body`, when given, is `update` as JSON text (the request's body without
        the secret): stored as it is, so the update is not encoded a second time.
        """
        ...


class _Receiver:
    """What the routes share: the sink, the duplicate memory, the hand-overs.

    Accepted updates wait in `backlog` for a hand-over worker, a task that
    passes them to the sink one after another and ends when none is left. A
    sink that does not wait (the host's `submit` with room in its queue) is fed
    a whole burst by one task, with no task per update; while every worker
    waits in the sink, the next update starts another, up to `max_handovers`.
    """

    def __init__(
        self,
        sink: UpdateSink,
        recent: RecentKeys,
        max_body: int,
        max_handovers: int,
        journal: CallbackJournal | None = None,
    ) -> None:
        self.sink = sink
        self.recent = recent
        self.journal = journal
        self.max_body = max_body
        self.max_handovers = max_handovers
        self.backlog: deque[tuple[str, dict[str, Any]]] = deque()
        self.tasks: set[asyncio.Task[None]] = set()  # the workers
        self.busy = 0  # workers inside the sink

    @property
    def pending(self) -> int:
        """Updates accepted and not yet handed over (waiting, or in the sink)."""
        return len(self.backlog) + self.busy

    async def handle(self, bot: CallbackBot, request: web.Request) -> web.Response:
        # VK stops calling a server that keeps failing: whatever goes wrong
        # here, answer a 4xx and log, never let aiohttp turn it into a 500.
        try:
            return await self._handle(bot, request)
        except Exception:
            logger.exception("bot %s: callback request failed", bot.name)
            return _text(400, "bad request")

    async def _handle(self, bot: CallbackBot, request: web.Request) -> web.Response:
        # Only what must come before `ok` happens here: read, parse, check, dedup,
        # hand over. Handling the update is the sink's (the host's queue) business.
        length = request.content_length
        if length is not None and length > self.max_body:
            return await _refuse_oversized(request)
        if length is not None:
            try:
                body = await request.read()  # one read of a known length
            except web.HTTPRequestEntityTooLarge:  # the root application's limit is lower
                return await _refuse_oversized(request)
        else:
            chunked = await _read_chunked(request, self.max_body)
            if chunked is None:
                return await _refuse_oversized(request)
            body = chunked
        # Decoded once: the text is what the inbox stores (the stdlib's loads
        # would decode bytes itself, then the inbox would need them again).
        text = _utf8_text(body)
        try:
            update = _json.loads(text)
        except ValueError:
            return _text(400, "malformed JSON")
        if not isinstance(update, dict):
            return _text(400, "expected a JSON object")
        type_ = update.get("type")
        if not isinstance(type_, str) or not type_:
            return _text(400, "missing 'type'")
        group_id = _int_or_none(update.get("group_id"))
        if group_id is None:
            return _text(400, "missing or malformed 'group_id'")
        if group_id != bot.group_id:
            logger.warning("bot %s: callback for group %d refused", bot.name, group_id)
            return _text(403, "wrong group_id")
        if not _secret_ok(bot, type_, update.get("secret")):
            logger.warning("bot %s: callback with a wrong secret refused", bot.name)
            return _text(403, "bad secret")
        if type_ == "confirmation":
            return _text(200, bot.confirmation)
        if not isinstance(update.get("object"), dict):
            return _text(400, "missing 'object'")
        journal = self.journal
        # The body as the inbox stores it, cut out of the request rather than
        # encoded again (None: the journal encodes the update itself).
        stored = None
        if journal is not None and isinstance(text, str):
            stored = without_secret(text, update)
        # The secret has done its job; handlers, logs and the inbox never see it.
        update.pop("secret", None)
        event_id = update.get("event_id")
        if journal is None:
            duplicate = event_id is not None and self.recent.check_and_add(
                (bot.group_id, str(event_id))
            )
        else:
            try:
                # Durable before `ok`: a crash from here on loses nothing.
                duplicate = not await journal.accept(bot.name, update, body=stored)
            except Exception:
                logger.exception(
                    "bot %s: the update could not be recorded; VK will retry", bot.name
                )
                return _text(503, "storage unavailable")
        if duplicate:
            logger.info(
                "bot %s: duplicate %s %s (X-Retry-Counter %s) ignored",
                bot.name,
                type_,
                event_id,
                request.headers.get("X-Retry-Counter", "-"),
            )
            return _text(200, "ok")
        # This request runs while every other task waits: a worker counted in
        # `busy` is waiting in the sink, any other one will still take the backlog.
        if self.busy < len(self.tasks):
            self.backlog.append((bot.name, update))
        elif len(self.tasks) < self.max_handovers:
            self.backlog.append((bot.name, update))
            task = asyncio.get_running_loop().create_task(self._work())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        else:
            # The sink is behind (the host's queue is full): hand this one over
            # before answering, so waiting hand-overs stay bounded and VK is slowed
            # to the pace the bot keeps, instead of piling up updates in memory.
            await self._deliver(bot.name, update)
        return _text(200, "ok")

    async def _work(self) -> None:
        backlog = self.backlog
        try:
            while backlog:
                bot_name, update = backlog.popleft()
                self.busy += 1
                try:
                    await self._deliver(bot_name, update)
                finally:
                    self.busy -= 1
        finally:
            # Leave the set now, not in the done callback (a loop iteration later):
            # a request in between would count this worker as one still to come.
            self.tasks.discard(asyncio.current_task())  # type: ignore[arg-type]

    async def _deliver(self, bot_name: str, update: dict[str, Any]) -> None:
        try:
            await self.sink(bot_name, update)
        except Exception:
            logger.exception("bot %s: the sink failed on a %s", bot_name, update.get("type"))

    async def wait_delivered(self, grace: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.tasks and (left := deadline - loop.time()) > 0:
            await asyncio.wait(set(self.tasks), timeout=left)
        if not self.tasks:
            return
        pending = set(self.tasks)
        lost = self.pending
        for task in pending:
            task.cancel()
        logger.warning("cancelled %d update hand-overs still running at shutdown", lost)
        await asyncio.gather(*pending, return_exceptions=True)
        self.backlog.clear()


def create_callback_app(
    bots: Sequence[CallbackBot],
    sink: UpdateSink,
    *,
    health: HealthCheck | None = None,
    max_body_size: int = MAX_BODY_SIZE,
    dedup_ttl: float = DEFAULT_DEDUP_TTL,
    dedup_size: int = DEFAULT_DEDUP_SIZE,
    shutdown_timeout: float = 5.0,
    max_handovers: int = MAX_HANDOVERS,
    journal: CallbackJournal | None = None,
) -> web.Application:
    """Build the Callback API application for `bots`.

    Each bot's `path` accepts VK's POSTs: `confirmation` is answered with the
    bot's confirmation string; every other valid update is answered `ok` at
    once and handed to `await sink(bot.name, update)` in a background task
    (without its `secret`; a burst shares one task while the sink does not
    wait). While `max_handovers` hand-overs all wait in the sink (the host's
    queue is full), a request hands its update over first and answers `ok`
    after, so waiting hand-overs stay bounded and VK is slowed to the bot's pace.
    An update whose `(group_id, event_id)` was accepted within `dedup_ttl`
    seconds is answered `ok` and dropped, so VK's retries are handled once.
    With a `journal` (the storage's inbox), each update is recorded there
    before `ok` instead (a 503 when it cannot be, so VK retries), and the
    journal tells retries apart, across restarts; concurrent requests share
    the journal's commits.
    Refusals: malformed JSON, a non-object, a missing `type`, `group_id` or
    `object` → 400; a wrong `group_id` or secret → 403; a body over
    `max_body_size` → 413; never a 500.

    `GET /healthz` answers 200 `{"ok": true, "bots": {...}}` when `health()`
    reports every bot connected (every bot, without `health`), else 503.
    The application's cleanup waits up to `shutdown_timeout` seconds for
    hand-overs still running, then cancels them.

    :raises VkConfigError: if two bots share a path or a path is `/healthz`.
    """
    app = web.Application(client_max_size=max_body_size)
    receiver = add_callback_routes(
        app,
        bots,
        sink,
        max_body_size=max_body_size,
        dedup_ttl=dedup_ttl,
        dedup_size=dedup_size,
        shutdown_timeout=shutdown_timeout,
        max_handovers=max_handovers,
        journal=journal,
    )

    async def healthz(request: web.Request) -> web.Response:
        try:
            status = {str(k): bool(v) for k, v in health().items()} if health else {}
        except Exception:
            logger.exception("the health check failed")
            return web.json_response({"ok": False, "error": "health check failed"}, status=503)
        if health is None:
            status = {bot.name: True for bot in bots}
        ok = all(status.values())
        payload = {"ok": ok, "bots": status, "pending": receiver.pending}
        return web.json_response(payload, status=200 if ok else 503)

    app.router.add_get(HEALTH_PATH, healthz)
    return app


def add_callback_routes(
    app: web.Application,
    bots: Sequence[CallbackBot],
    sink: UpdateSink,
    *,
    max_body_size: int = MAX_BODY_SIZE,
    dedup_ttl: float = DEFAULT_DEDUP_TTL,
    dedup_size: int = DEFAULT_DEDUP_SIZE,
    shutdown_timeout: float = 5.0,
    max_handovers: int = MAX_HANDOVERS,
    journal: CallbackJournal | None = None,
) -> _Receiver:
    """Add one POST route per bot `path` to an existing application (the host's server).

    Behaves as `create_callback_app` describes, without `/healthz`; returns
    the receiver (its `pending` counts the updates not yet handed over).

    :raises VkConfigError: if two bots share a path or a path is `/healthz`.
    """
    paths = [bot.path for bot in bots]
    if len(set(paths)) != len(paths) or HEALTH_PATH in paths:
        raise VkConfigError(f"callback paths must be distinct and not {HEALTH_PATH}: {paths}")
    receiver = _Receiver(
        sink, RecentKeys(dedup_ttl, dedup_size), max_body_size, max_handovers, journal
    )
    for bot in bots:
        app.router.add_post(bot.path, _route(receiver, bot))

    async def on_cleanup(app: web.Application) -> None:
        await receiver.wait_delivered(shutdown_timeout)

    app.on_cleanup.append(on_cleanup)
    return receiver


def _route(
    receiver: _Receiver, bot: CallbackBot
) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return await receiver.handle(bot, request)

    return handler


async def _read_chunked(request: web.Request, limit: int) -> bytes | None:
    # A chunked body has no length to check first: read it piece by piece
    # against our own limit (a sub-application's `client_max_size` is not applied).
    chunks = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _refuse_oversized(request: web.Request) -> web.Response:
    # aiohttp would otherwise keep reading the unread rest of the body for up
    # to 10 s ("lingering"), holding the connection and delaying shutdown:
    # send the answer now, then close the connection.
    response = _text(413, "request body too large")
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response


def _utf8_text(body: bytes) -> str | bytes:
    # The body as text when it is plain UTF-8; else the bytes, for the JSON parser
    # to read as before (a UTF-8 BOM, UTF-16 or -32: the stdlib reads them).
    if body.startswith(codecs.BOM_UTF8):
        return body
    try:
        return body.decode()
    except UnicodeDecodeError:
        return body


def _secret_ok(bot: CallbackBot, type_: str, provided: Any) -> bool:
    if not bot.secret:
        return True
    if provided is None and type_ == "confirmation":
        return True
    if not isinstance(provided, str):
        return False
    return hmac.compare_digest(provided.encode(), bot.secret.encode())


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


_TEXT_HEADERS = {"Content-Type": "text/plain; charset=utf-8"}


def _text(status: int, text: str) -> web.Response:
    # Bytes and a ready header: half the cost of `text=..., content_type=...`.
    return web.Response(status=status, body=text.encode(), headers=_TEXT_HEADERS)
