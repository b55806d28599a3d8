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

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from aiohttp import web

from botrt.protocols.vk._callback_receiver import _Receiver
from botrt.protocols.vk._dedup import RecentKeys
from botrt.protocols.vk._errors import VkConfigError
from botrt.protocols.vk._longpoll import UpdateSink

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

    def accept(self, bot: str, update: dict[str, Any], body: str | None = None) -> Awaitable[bool]:
        """Record `update` durably; await it: True if new, False if it was recorded before.

        `body`, when given, is `update` as JSON text (the request's body without
        the secret): stored as it is, so the update is not encoded a second time.
        """
        ...


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

    Each bot's `path` accepts VK's POSTs: `confirmation` is answered with the bot's confirmation
    string; every other valid update is answered `ok` at once and handed to
    `await sink(bot.name, update)` in a background task (without its `secret`; a burst shares
    one task while the sink does not wait). While `max_handovers` hand-overs all wait in the
    sink (the host's queue is full), a request hands its update over first and answers `ok`
    after, so waiting hand-overs stay bounded and VK is slowed to the bot's pace. An update whose
    `(group_id, event_id)` was accepted within `dedup_ttl` seconds is answered `ok` and dropped,
    so VK's retries are handled once. With a `journal` (the storage's inbox), each update is
    recorded there before `ok` instead (a 503 when it cannot be, so VK retries), and the journal
    tells retries apart, across restarts; concurrent requests share the journal's commits.
    Refusals: malformed JSON, a non-object, a missing `type`, `group_id` or `object` → 400; a
    wrong `group_id` or secret → 403; a body over `max_body_size` → 413; never a 500.

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
    app.router.add_get(HEALTH_PATH, _healthz(bots, health, receiver))
    return app


def _healthz(
    bots: Sequence[CallbackBot], health: HealthCheck | None, receiver: _Receiver
) -> Callable[[web.Request], Awaitable[web.Response]]:
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

    return healthz


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
        # The receiver's own method, bound by a C-level partial: no frame in between.
        app.router.add_post(bot.path, partial(receiver.handle, bot))

    async def on_cleanup(app: web.Application) -> None:
        await receiver.wait_delivered(shutdown_timeout)

    app.on_cleanup.append(on_cleanup)
    return receiver
