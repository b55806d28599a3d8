"""The bots' members: syncing the platforms' member lists, and the platform's admin check.

`MemberSync` works from what it is given (the member sources the platforms
registered, the `Members` store once storage is open, the ``botrt_is_admin``
hook), never the `Host`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping

import anyio

from botrt.adapter import Event, MemberSource
from botrt.plugin import Members

log = logging.getLogger("botrt.host")


class MemberSync:
    """Keeps each bot's stored member list in step with its platform.

    `sources` are the platforms' member sources by bot name; `members` gives
    the store (None without storage); `ask_hook` calls ``botrt_is_admin``
    for an event and returns its answer (None, a bool, or an awaitable).
    """

    def __init__(
        self,
        sources: Mapping[str, MemberSource],
        members: Callable[[], Members | None],
        ask_hook: Callable[[Event], object],
    ) -> None:
        self._sources = sources
        self._members = members
        self._ask_hook = ask_hook

    async def is_admin(self, event: Event) -> bool:
        """Whether the platform says `event`'s sender is an admin: the hook, else a manager."""
        answer = self._ask_hook(event)
        if inspect.isawaitable(answer):
            answer = await answer
        if answer is not None:
            return bool(answer)
        members = self._members()
        user_id = getattr(event, "user_id", None)
        if members is None or user_id is None:
            return False
        return await members.is_manager(event.bot, user_id)

    async def sync(self) -> None:
        """Fetch every bot's member list from its platform and store it."""
        members = self._members()
        if members is None:
            return
        for bot, source in list(self._sources.items()):
            try:
                infos = await source.fetch()
                # A write cut by cancellation (shutdown) would leave the connection
                # half-closed; it is short, so let it finish.
                with anyio.CancelScope(shield=True):
                    count = await members.sync(bot, infos)
            except Exception as exc:
                log.warning("members of %s not synced (kept the stored list): %s", bot, exc)
                continue
            log.info("members of %s synced: %d", bot, count)

    async def run(self, interval: float) -> None:
        """Sync now and then every `interval` seconds, until cancelled."""
        while True:
            await self.sync()
            await anyio.sleep(interval)
