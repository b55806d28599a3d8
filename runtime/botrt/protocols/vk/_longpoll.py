"""Bots Long Poll: a community's updates pulled over long-lived HTTP requests.

The poll loop and what it does with VK's answers are here; its requests in
`_lpserver.ServerSteps`, its journal (the stored position) in
`_lpjournal.JournalSteps`, its two bases.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botrt._backoff import Backoff
from botrt.protocols.vk._errors import VkApiError, VkConfigError, VkError, VkTransportError
from botrt.protocols.vk._leader import LeadershipLost
from botrt.protocols.vk._lpjournal import JournalSteps, LongPollJournal, duration
from botrt.protocols.vk._lpserver import ServerSteps, _PollError

if TYPE_CHECKING:
    from botrt.protocols.vk._api import VkApi

logger = logging.getLogger("botrt.vk.longpoll")

UpdateSink = Callable[[str, dict[str, Any]], Awaitable[None]]
"""Where VK updates go: `await sink(bot_name, update)`, for Long Poll and Callback alike."""


# VK errors that mean "VK is busy", not "this will never work": getting a new
# Long Poll server keeps trying through them.
_TRANSIENT_CODES = frozenset({6, 9, 10})


@dataclass(frozen=True, slots=True)
class LongPollStatistics:
    """A snapshot of a `BotsLongPoll`'s state and counters.

    Attributes:
        connected: whether the last request to VK succeeded.
        ts: the position the next `a_check` asks from.
        requests: `a_check` requests made.
        updates: updates handed to the sink.
        failed: `failed` answers received, by code.
        errors: requests that failed (network, HTTP status, bad JSON).
    """

    connected: bool
    ts: str | None
    requests: int
    updates: int
    failed: dict[int, int] = field(default_factory=dict)
    errors: int = 0


class BotsLongPoll(ServerSteps, JournalSteps):
    """Receives one community's updates through the Bots Long Poll API.

    `run(sink)` gets a server with `groups.getLongPollServer`, then asks
    `a_check` in a loop and hands each update to `sink(bot, update)`, in
    order. The position (`ts`) moves past a batch only once every update of
    it reached the sink, so nothing is lost or handed twice:

    - `failed: 1`: continue from the `ts` VK gives (VK dropped the gap);
    - `failed: 2`: get a new key and server, keep the current `ts`;
    - `failed: 3`: get a new key and `ts`;
    - network errors, HTTP errors and bad JSON: back off (exponentially, with
      jitter, up to `max_retry_delay` however long VK stays away) and ask
      again from the same `ts`.

    The waits are on the `VkApi`'s timer (`VkApi.timer`).

    With a `journal`, the position survives the process: a start resumes from
    the stored `ts` (not the server's current one), and each batch is recorded
    with its new `ts` in one transaction before any of it reaches the sink, so
    the stored `ts` never runs ahead of what is recorded; updates the journal
    has seen (a batch VK sends again after a crash) are not handed on. A
    `failed: 1` right after a resume means VK no longer holds the updates
    since the stored `ts`: it is logged with how long the bot was away.

    `run` can be cancelled at any point; a later `run` on the same object
    resumes where it stopped, the rest of an interrupted batch first.

    In a cluster the journal and the sink raise `LeadershipLost` once another
    worker polls the bot: `run` stops with it, storing and handing on nothing more.
    """

    def __init__(
        self,
        api: VkApi,
        group_id: int,
        *,
        bot: str,
        wait: int = 25,
        retry_delay: float = 1.0,
        max_retry_delay: float = 30.0,
        journal: LongPollJournal | None = None,
    ) -> None:
        """Prepare a poller; nothing is requested until `run`.

        :raises VkConfigError: if `wait` is not between 1 and 90 (VK's limit)
            or a delay is negative.
        """
        if not 1 <= wait <= 90:
            raise VkConfigError(f"Long Poll wait must be 1..90 seconds, got {wait}")
        if retry_delay < 0 or max_retry_delay < 0:
            raise VkConfigError("Long Poll retry delays must not be negative")
        self.api = api
        self.group_id = int(group_id)
        self.bot = bot
        self.wait = wait
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self._server: str | None = None
        self._key: str | None = None
        self._ts: str | None = None
        self._pending: list[dict[str, Any]] = []
        self._pending_ts: str | None = None
        self._connected = False
        self._running = False
        self._backoff = Backoff(retry_delay, max_retry_delay, jitter=0.5)
        self._requests = 0
        self._updates = 0
        self._errors = 0
        self._failed: Counter[int] = Counter()
        self.journal = journal
        self._resumed = False
        self._away: float | None = None  # seconds the stored `ts` had aged at a resume
        self._stored_ts: str | None = None
        self._stored_at = 0.0  # `api.timer` time of the last write of the `ts`

    @property
    def connected(self) -> bool:
        """True while the last request to VK succeeded (for health checks)."""
        return self._connected

    @property
    def ts(self) -> str | None:
        """The position the next `a_check` asks from; None before the first server."""
        return self._ts

    def statistics(self) -> LongPollStatistics:
        """Return the poller's state and counters."""
        return LongPollStatistics(
            connected=self._connected,
            ts=self._ts,
            requests=self._requests,
            updates=self._updates,
            failed=dict(self._failed),
            errors=self._errors,
        )

    async def run(self, sink: UpdateSink) -> None:
        """Hand every update to `sink` until cancelled.

        An exception raised by `sink` is logged and the update counts as
        handled, so one bad update cannot stall the bot.

        :raises VkApiError: if `groups.getLongPollServer` is refused for good
            (5: bad token, 15/100: Long Poll disabled in the community's
            settings or a wrong group id); errors 6, 9 and 10 are waited out.
        :raises VkError: if `run` is already running on this object, or the
            `VkApi` was closed.
        :raises LeadershipLost: if the journal or the sink says this worker no
            longer leads the bot (a cluster).
        """
        if self._running:
            raise VkError(f"BotsLongPoll for bot {self.bot!r} is already running")
        self._running = True
        failures = 0
        try:
            if self.journal is not None and not self._resumed:
                await self._resume(self.journal)
            while True:
                await self._drain(sink)
                try:
                    if self._key is None:
                        await self._get_server()
                    if self.journal is not None and self._ts != self._stored_ts:
                        # A `ts` from the server (a first start, `failed: 3`) is stored
                        # before it is used: a restart from here on misses nothing.
                        await self._record(self.journal, {"updates": [], "ts": self._ts})
                    body = await self._check()
                    if self.journal is not None:
                        body = await self._record(self.journal, body)
                except (_PollError, VkTransportError) as exc:
                    failures += 1
                    await self._pause(failures, exc)
                    continue
                except VkApiError as exc:
                    if exc.code not in _TRANSIENT_CODES:
                        raise
                    failures += 1
                    await self._pause(failures, exc)
                    continue
                failures = 0
                self._away = None if body.get("failed") is None else self._away
                self._accept(body)
        finally:
            self._running = False
            self._connected = False

    def _accept(self, body: dict[str, Any]) -> None:
        failed = body.get("failed")
        if failed is not None:
            self._on_failed(failed, body)
            return
        updates = body.get("updates")
        new_ts = body.get("ts")
        if not isinstance(updates, list) or new_ts is None:
            # Treated like `failed: 2`: keeps `ts`, so nothing can be skipped.
            logger.warning("bot %s: Long Poll answer without updates/ts; new key", self.bot)
            self._key = None
            return
        self._pending = [u for u in updates if isinstance(u, dict)]
        if len(self._pending) != len(updates):
            logger.warning("bot %s: skipped Long Poll updates that are not objects", self.bot)
        self._pending_ts = str(new_ts)

    def _on_failed(self, failed: Any, body: dict[str, Any]) -> None:
        try:
            code = int(failed)
        except (TypeError, ValueError):
            code = 0
        self._failed[code] += 1
        away, self._away = self._away, None
        if code == 1 and body.get("ts") is not None:
            if away is not None:
                logger.warning(
                    "bot %s: VK no longer has the updates since the stored ts %s (failed 1): "
                    "the bot was away about %s, longer than VK keeps them; the updates "
                    "sent meanwhile are lost, continuing from VK's current position",
                    self.bot,
                    self._ts,
                    duration(away),
                )
            else:
                logger.warning(
                    "bot %s: Long Poll history lost (failed 1); skipping ahead", self.bot
                )
            self._ts = str(body["ts"])
        elif code == 3 or code == 1:
            logger.info("bot %s: Long Poll data lost (failed %d); new key and ts", self.bot, code)
            self._key = None
            self._ts = None
        else:
            # 2 is an expired key. An unknown code gets the same care: a new
            # key but the same `ts`, which cannot skip anything.
            logger.info("bot %s: Long Poll key expired (failed %d); new key", self.bot, code)
            self._key = None

    async def _drain(self, sink: UpdateSink) -> None:
        while self._pending:
            update = self._pending[0]
            try:
                await sink(self.bot, update)
            except LeadershipLost:
                raise  # not handed on: it stays recorded, for the new leader to replay
            except Exception:
                logger.exception("bot %s: the sink failed on a %s", self.bot, update.get("type"))
            # Dropped only once the sink returned: a cancellation inside the
            # sink leaves the update for the next `run`.
            self._pending.pop(0)
            self._updates += 1
        if self._pending_ts is not None:
            self._ts, self._pending_ts = self._pending_ts, None
