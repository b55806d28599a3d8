"""VK as the host sees it: one adapter per Long Poll bot, one HTTP server for Callback bots."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from botrt.adapter import Adapter, Event, Submit
from botrt.protocols.vk._api import VkApi
from botrt.protocols.vk._callback import CallbackBot, create_callback_app
from botrt.protocols.vk._errors import VkPayloadError
from botrt.protocols.vk._longpoll import BotsLongPoll
from botrt.protocols.vk._parse import parse_update

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
    """Serves the Callback API of every callback bot (and ``/healthz``) on ``[server]``."""

    name = "vk:callback"

    def __init__(
        self,
        platform: VkPlatform,
        bots: Sequence[CallbackBot],
        *,
        host: str,
        port: int,
        pollers: Sequence[VkLongPollAdapter] = (),
    ) -> None:
        self._platform = platform
        self._bots = tuple(bots)
        self._host = host
        self._port = port
        self._pollers = tuple(pollers)
        self.runner: web.AppRunner | None = None

    def _health(self) -> dict[str, bool]:
        status = {b.name: self.runner is not None for b in self._bots}
        for poller in self._pollers:
            status[poller.name.removeprefix("vk:")] = poller.healthy()
        return status

    def app(self, submit: Submit) -> web.Application:
        """The aiohttp application: mount it into your own app, or let `run` serve it."""

        async def sink(bot: str, update: dict[str, Any]) -> None:
            event = self._platform.event_of(bot, update)
            if event is not None:
                await submit(event)

        return create_callback_app(self._bots, sink, health=self._health)

    async def run(self, submit: Submit) -> None:
        """Serve until cancelled."""
        import anyio

        runner = web.AppRunner(self.app(submit), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
            self.runner = runner
            log.info("vk callback server on http://%s:%s", self._host, self.port)
            await anyio.sleep_forever()
        finally:
            self.runner = None
            with anyio.CancelScope(shield=True):
                await runner.cleanup()

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port = 0``)."""
        if self.runner is not None:
            for addr in self.runner.addresses:
                return int(addr[1])
        return self._port

    async def close(self) -> None:
        """Close the callback bots' API sessions."""
        for bot in self._bots:
            await self._platform.apis[bot.name].close()
