"""The Callback API's receiver: one POST checked, deduplicated and handed over.

`_Receiver` is what the routes `botrt.protocols.vk._callback` adds share: each
bot's route is its `handle`, bound to the bot (no layer in between). It reads
and checks the request (`_check`), records or deduplicates the update and hands
it to the sink (`_accept`), then answers.
"""

from __future__ import annotations

import asyncio
import codecs
import hmac
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from aiohttp import web

from botrt import _json
from botrt.protocols.vk._rawbody import without_secret

if TYPE_CHECKING:
    from botrt.protocols.vk._callback import CallbackBot, CallbackJournal
    from botrt.protocols.vk._dedup import RecentKeys
    from botrt.protocols.vk._longpoll import UpdateSink

logger = logging.getLogger("botrt.vk.callback")


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
        """Answer one of VK's POSTs for `bot` (the route, bound to `bot` with `partial`)."""
        # VK stops calling a server that keeps failing: whatever goes wrong
        # here, answer a 4xx and log, never let aiohttp turn it into a 500.
        # Only what must come before `ok` happens here: read, parse, check, dedup,
        # hand over. Handling the update is the sink's (the host's queue) business.
        try:
            checked = await self._check(bot, request)
            if type(checked) is tuple:
                return await self._accept(bot, request, *checked)
            return checked
        except Exception:
            logger.exception("bot %s: callback request failed", bot.name)
            return _text(400, "bad request")

    async def _check(
        self, bot: CallbackBot, request: web.Request
    ) -> web.Response | tuple[str | bytes, dict[str, Any]]:
        # Read, parse and check: a refusal (or the confirmation) as the response,
        # else the body's text and the update, for `_accept`.
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
        return text, update

    async def _accept(
        self, bot: CallbackBot, request: web.Request, text: str | bytes, update: dict[str, Any]
    ) -> web.Response:
        # Dedup (or record in the journal), then hand over, then `ok`.
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
                update.get("type"),
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
