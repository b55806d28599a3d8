"""A Long Poll's journal: the stored position it resumes from, and each batch recorded.

`LongPollJournal` is what the storage's inbox provides; `JournalSteps` is
mixed into `BotsLongPoll` and keeps the stored `ts` in step with what it hands on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from botrt.protocols.vk._leader import LeadershipLost
from botrt.protocols.vk._lpserver import _PollError

if TYPE_CHECKING:
    from botrt.protocols.vk._api import VkApi

logger = logging.getLogger("botrt.vk.longpoll")


class LongPollJournal(Protocol):
    """Where a `BotsLongPoll` keeps its position and records batches (the storage's inbox)."""

    async def resume(self, bot: str) -> tuple[str, float] | None:
        """The stored `ts` and how many seconds ago it was stored, or None."""
        ...

    async def record(
        self, bot: str, updates: Sequence[dict[str, Any]], ts: str | None
    ) -> list[dict[str, Any]]:
        """Record a batch and the `ts` after it in one transaction; return the new updates."""
        ...


class JournalSteps:
    """The journal steps of `BotsLongPoll` (see the module)."""

    # Set by `BotsLongPoll.__init__`.
    api: VkApi
    bot: str
    _ts: str | None
    _resumed: bool
    _away: float | None
    _stored_ts: str | None
    _stored_at: float

    async def _resume(self, journal: LongPollJournal) -> None:
        stored = await journal.resume(self.bot)
        self._resumed = True
        if stored is None or self._ts is not None:
            return
        self._ts, self._away = stored
        self._stored_ts = self._ts
        logger.info(
            "bot %s: resuming Long Poll from the stored ts %s (stored %s ago)",
            self.bot,
            self._ts,
            duration(self._away),
        )

    async def _record(self, journal: LongPollJournal, body: dict[str, Any]) -> dict[str, Any]:
        # The batch and its `ts` go to the journal before anything reaches the sink;
        # what the journal has seen before is left out of the body.
        updates, new_ts = body.get("updates"), body.get("ts")
        if body.get("failed") is not None or not isinstance(updates, list) or new_ts is None:
            return body
        batch = [u for u in updates if isinstance(u, dict)]
        ts = str(new_ts)
        now = self.api.timer.now()
        if not batch and ts == self._stored_ts and now - self._stored_at < _TOUCH_EVERY:
            return body  # nothing new: no write
        try:
            fresh = await journal.record(self.bot, batch, ts)
        except LeadershipLost:
            raise  # another worker polls this bot now: this one stops
        except Exception as exc:
            # Not recorded, so not handed on: the same `ts` is asked again.
            reason = f"{type(exc).__name__}: {exc}"
            raise _PollError(f"the batch could not be stored ({reason})") from exc
        self._stored_ts, self._stored_at = ts, now
        if len(batch) != len(updates):
            logger.warning("bot %s: skipped Long Poll updates that are not objects", self.bot)
        return {**body, "updates": fresh}


# An idle bot's `ts` does not move; it is still written this often, so that the
# time it was stored says when the bot was last seen running.
_TOUCH_EVERY = 60.0


def duration(seconds: float) -> str:
    """`seconds` for a log line: "45 s", "12 min", "3.5 h"."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
