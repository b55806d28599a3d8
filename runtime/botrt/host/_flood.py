"""Flood control: ``[bot] flood``, how many messages one user may send the bot in a while.

A user's messages (text and button presses) are counted across the bot's
chats over the last ``seconds``; one more than ``messages`` gets a single
notice in the bot's language, and their messages are then ignored (dropped
before dispatch, counted on ``/metrics``) until they are back under the
limit. Admins are never limited. Time is the host's clock.

The counts live in this process's memory. Several workers on one database
(SPEC §9) each count what reaches them; to share one limit they would keep
the recent times per user in the storage (one row per user, updated per
message), at the price of a write on every message.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from botrt.adapter import ButtonEvent, TextEvent

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.config import FloodLimit

log = logging.getLogger("botrt.host")

_SWEEP_AT = 4096
"""Forget idle users once this many more are tracked than after the last sweep."""


class FloodControl:
    """An event middleware that holds each user to `limit` (see the module)."""

    def __init__(
        self,
        limit: FloodLimit,
        *,
        clock: Callable[[], float],
        is_admin: Callable[[Event], Awaitable[bool]],
        notice: Callable[[int], str],
        dropped: Callable[[Event], None],
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._is_admin = is_admin
        self._notice = notice
        self._dropped = dropped
        self._recent: dict[tuple[str, int], deque[float]] = {}
        self._told: set[tuple[str, int]] = set()
        self._sweep_at = _SWEEP_AT

    async def __call__(self, event: Event, call_next: Callable[[], Awaitable[None]]) -> None:
        """Hand `event` on, unless its sender is over the limit."""
        if not isinstance(event, TextEvent | ButtonEvent):
            await call_next()
            return
        key = (event.bot, event.user_id)
        now = self._clock()
        limit = self.limit
        recent = self._recent.get(key)
        if recent is None:
            if len(self._recent) >= self._sweep_at:
                self._sweep(now)
            recent = self._recent[key] = deque(maxlen=limit.messages)
        horizon = now - limit.seconds
        while recent and recent[0] <= horizon:
            recent.popleft()
        if len(recent) < limit.messages:
            recent.append(now)
            self._told.discard(key)
            await call_next()
            return
        if await self._is_admin(event):
            await call_next()
            return
        self._dropped(event)
        if key in self._told:
            return
        self._told.add(key)
        wait = max(1, math.ceil(recent[0] + limit.seconds - now))
        try:
            await event.reply(self._notice(wait))
        except Exception:
            log.exception("could not send the flood notice to user %s", event.user_id)

    def _sweep(self, now: float) -> None:
        horizon = now - self.limit.seconds
        self._recent = {k: r for k, r in self._recent.items() if r and r[-1] > horizon}
        self._told &= self._recent.keys()
        self._sweep_at = len(self._recent) + _SWEEP_AT
