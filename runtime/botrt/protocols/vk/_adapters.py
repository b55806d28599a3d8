"""VK as the host sees it: one adapter per Long Poll bot, one HTTP server for Callback bots."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botrt.adapter import Adapter, Event, Submit
from botrt.protocols.vk._api import VkApi
from botrt.protocols.vk._errors import VkPayloadError
from botrt.protocols.vk._longpoll import BotsLongPoll
from botrt.protocols.vk._parse import parse_update

if TYPE_CHECKING:
    from aiohttp import web

    from botrt.protocols.vk._callback import CallbackBot

log = logging.getLogger("botrt.vk")


class VkPlatform:
    """The VK bots of one host: their API clients, and how updates become events.

    Attributes:
        apis: one `VkApi` per bot name (each with its own session and rate limit).
    """

    def __init__(self, apis: Mapping[str, VkApi]) -> None:
        self.apis = dict(apis)
        self.connected: dict[str, bool] = dict.fromkeys(self.apis, False)

    def api_for(self, event: Event) -> VkApi | None:
        """The API client of the bot that received `event` (None for another platform)."""
        return self.apis.get(event.bot) if event.platform == "vk" else None

    def event_of(self, bot: str, update: dict[str, Any]) -> Event | None:
        """Parse an update of `bot`; None (logged) when VK sent something unexpected."""
        try:
            return parse_update(update, bot=bot, api=self.apis.get(bot))
        except VkPayloadError as exc:
            log.warning("vk %s: dropped an update botrt cannot read: %s", bot, exc)
            return None

    def health(self) -> dict[str, bool]:
        """Whether each bot is connected."""
        return dict(self.connected)


class VkLongPollAdapter(Adapter):
    """Receives one bot's events through Bots Long Poll."""

    def __init__(self, platform: VkPlatform, bot: str, group_id: int) -> None:
        self.name = f"vk:{bot}"
        self._platform = platform
        self._bot = bot
        self._poll = BotsLongPoll(platform.apis[bot], group_id, bot=bot)

    async def run(self, submit: Submit) -> None:
        """Poll until cancelled, submitting every event in order."""

        async def sink(bot: str, update: dict[str, Any]) -> None:
            self._platform.connected[bot] = True
            event = self._platform.event_of(bot, update)
            if event is not None:
                await submit(event)

        self._platform.connected[self._bot] = False
        try:
            await self._poll.run(sink)
        finally:
            self._platform.connected[self._bot] = False

    def healthy(self) -> bool:
        """Whether the last long-poll request succeeded."""
        return self._poll.connected

    async def close(self) -> None:
        """Close the bot's API session."""
        await self._platform.apis[self._bot].close()


class VkCallbackAdapter(Adapter):
    """Receives the Callback API of every callback bot through the host's HTTP server.

    Its routes (one POST per bot `path`) are added to the host's application
    by `add_routes`; `run` only keeps the adapter alive beside the others.
    """

    name = "vk:callback"

    def __init__(self, platform: VkPlatform, bots: Sequence[CallbackBot]) -> None:
        self._platform = platform
        self._bots = tuple(bots)
        self.receiver: Any = None

    def add_routes(self, app: web.Application, submit: Submit) -> None:
        """Add the bots' webhook routes to `app` (the host's server, or your own)."""
        # Here, not at the top: the Callback API needs aiohttp.web, which a bot on
        # Long Poll alone never loads.
        from botrt.protocols.vk._callback import add_callback_routes

        async def sink(bot: str, update: dict[str, Any]) -> None:
            event = self._platform.event_of(bot, update)
            if event is not None:
                await submit(event)

        self.receiver = add_callback_routes(app, self._bots, sink)

    async def run(self, submit: Submit) -> None:
        """Wait until cancelled: the HTTP server delivers the updates."""
        import anyio

        await anyio.sleep_forever()

    async def close(self) -> None:
        """Close the callback bots' API sessions."""
        for bot in self._bots:
            await self._platform.apis[bot.name].close()
