"""VK as the host sees it: one adapter per Long Poll bot, one HTTP server for Callback bots."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from botrt.adapter import Adapter, Event, Submit
from botrt.protocols.vk._api import VkApi
from botrt.protocols.vk._durable import ReplyApi, update_key
from botrt.protocols.vk._errors import VkConfigError, VkPayloadError
from botrt.protocols.vk._longpoll import BotsLongPoll
from botrt.protocols.vk._parse import parse_update

if TYPE_CHECKING:
    from aiohttp import web

    from botrt.protocols.vk._callback import CallbackBot
    from botrt.protocols.vk._durable import VkInbox
    from botrt.protocols.vk._leader import Leadership
    from botrt.protocols.vk._lease_store import Tenure
    from botrt.protocols.vk._routing import CallbackRouter
    from botrt.storage._internal import Lease

log = logging.getLogger("botrt.vk")


class VkPlatform:
    """The VK bots of one host: their API clients, and how updates become events.

    Attributes:
        apis: one `VkApi` per bot name (each with its own session and rate limit).
        inbox: the storage's inbox, when the host has a storage: updates are
            recorded there before they are handled (durable delivery).
        adopt: in a cluster, the host's `ConversationStates.adopt`: awaited with a
            bot's name before this worker handles conversations of that bot another
            worker handled until now (a Long Poll lead or a partition taken over).
        fence: in a cluster, the host's `ConversationStates.fence`: the Callback
            router fences each bot's state writes with its partition leases, a Long
            Poll adapter with its bot's leader lease.
        mark_fences: per bot, what gives the lease its updates' "handled" marks are
            written under (a Long Poll bot's in a cluster: the lead held now). The
            Callback router fences its marks itself, per partition.
    """

    def __init__(self, apis: Mapping[str, VkApi], inbox: VkInbox | None = None) -> None:
        self.apis = dict(apis)
        self.inbox = inbox
        self.adopt: Callable[[str], Awaitable[None]] | None = None
        self.fence: Callable[[str, Callable[[int], Any]], None] | None = None
        self.mark_fences: dict[str, Callable[[], Lease | None]] = {}
        self.connected: dict[str, bool] = dict.fromkeys(self.apis, False)

    def api_for(self, event: Event) -> VkApi | None:
        """The API client of the bot that received `event` (None for another platform)."""
        return self.apis.get(event.bot) if event.platform == "vk" else None

    def event_of(self, bot: str, update: dict[str, Any]) -> Event | None:
        """Parse an update of `bot`; None (logged) when VK sent something unexpected.

        With an inbox, the event marks its update handled when the host is done
        with it (an update that cannot be parsed is marked at once), and its
        replies get `random_id`s derived from the update (`ReplyApi`).
        """
        api = self.apis.get(bot)
        inbox = self.inbox
        if inbox is None:
            try:
                return parse_update(update, bot=bot, api=api)
            except VkPayloadError as exc:
                log.warning("vk %s: dropped an update botrt cannot read: %s", bot, exc)
                return None
        key = update_key(update)
        if api is not None:
            api = cast("VkApi", ReplyApi(api, bot, key))
        try:
            event = parse_update(update, bot=bot, api=api)
        except VkPayloadError as exc:
            log.warning("vk %s: dropped an update botrt cannot read: %s", bot, exc)
            inbox.inbox.done(bot, key)
            return None
        fence_of = self.mark_fences.get(bot)
        event.on_handled = inbox.marker(bot, update, None if fence_of is None else fence_of())
        return event

    async def replay(self, bot: str, submit: Submit) -> None:
        """Submit what a previous process recorded for `bot` and never handled (a crash).

        :raises StorageError: if the storage cannot be reached.
        """
        if self.inbox is None:
            return
        updates = await self.inbox.unhandled(bot)
        if updates:
            log.warning(
                "vk %s: handling %d update(s) a previous run accepted and did not finish",
                bot,
                len(updates),
            )
        for update in updates:
            event = self.event_of(bot, update)
            if event is not None:
                await submit(event)

    async def close(self) -> None:
        """Write the handled marks not yet written, release the inbox (a stop); logs a failure."""
        if self.inbox is None:
            return
        try:
            await self.inbox.close()
        except Exception as exc:
            log.warning("vk: handled marks not written (handled again at the next start): %s", exc)

    def health(self) -> dict[str, bool]:
        """Whether each bot is connected."""
        return dict(self.connected)


class VkLongPollAdapter(Adapter):
    """Receives one bot's events through Bots Long Poll.

    With a `leadership` (``[cluster] enabled``), it polls only while this worker
    leads the bot (`Leadership`), from the `ts` the last leader stored; a
    standby worker waits, and counts as healthy. The bot's conversation states are
    then written only under the lead (`VkPlatform.fence`): a write made while
    handling an update holds only while the lease is still this worker's at the
    epoch it had when the handling began.
    """

    def __init__(
        self,
        platform: VkPlatform,
        bot: str,
        group_id: int,
        leadership: Leadership | None = None,
    ) -> None:
        self.name = f"vk:{bot}"
        self._platform = platform
        self._bot = bot
        self._group_id = group_id
        self.leadership = leadership
        self._poll = BotsLongPoll(platform.apis[bot], group_id, bot=bot, journal=platform.inbox)

    async def run(self, submit: Submit) -> None:
        """Poll until cancelled (in a cluster: whenever this worker leads), in order."""
        leadership = self.leadership
        if leadership is None:
            await self._receive(submit)
            return

        if self._platform.fence is not None:
            # The bot's state writes hold only under the lead they were handled under: a
            # leader that stalled past `failover` cannot overwrite the next leader's.
            self._platform.fence(self._bot, lambda _peer: leadership.tenure)
            # Its "handled" marks too: a deposed leader's mark, written before the next
            # leader replays the inbox, would make it skip an update whose state the
            # deposed one could not store.
            self._platform.mark_fences[self._bot] = lambda: _lease_of(leadership.tenure)

        async def checked(event: Event) -> None:
            leadership.check()  # a deposed leader hands nothing more to the host
            await submit(event)

        async def lead() -> None:
            # A new poller for each term: it resumes from the `ts` the last leader
            # stored, and records every batch behind the lease's fence.
            journal = _FencedJournal(self._platform.inbox, leadership)
            if self._platform.adopt is not None:
                # The last leader's conversation states, before its leftovers are replayed.
                await self._platform.adopt(self._bot)
            api = self._platform.apis[self._bot]
            self._poll = BotsLongPoll(api, self._group_id, bot=self._bot, journal=journal)
            await self._receive(checked)

        await leadership.run(lead)

    async def _receive(self, submit: Submit) -> None:
        async def sink(bot: str, update: dict[str, Any]) -> None:
            self._platform.connected[bot] = True
            event = self._platform.event_of(bot, update)
            if event is not None:
                await submit(event)

        self._platform.connected[self._bot] = False
        try:
            # What a crash left unhandled goes first, before anything newer.
            await self._platform.replay(self._bot, submit)
            await self._poll.run(sink)
        finally:
            self._platform.connected[self._bot] = False

    def healthy(self) -> bool:
        """Whether the last long-poll request succeeded (a cluster's standby: True)."""
        if self.leadership is not None and not self.leadership.leads():
            return True
        return self._poll.connected

    async def close(self) -> None:
        """Write the handled marks, hand the lead over (a cluster), close the API session."""
        await self._platform.close()
        if self.leadership is not None:
            # After the marks: the next leader replays only what this one left undone.
            await self.leadership.step_down()
        await self._platform.apis[self._bot].close()


class _FencedJournal:
    """The inbox as a leader's poller sees it: each batch recorded behind the lease's fence."""

    def __init__(self, inbox: VkInbox | None, leadership: Leadership) -> None:
        if inbox is None:
            raise VkConfigError("a cluster's Long Poll needs the storage's inbox")
        self._inbox = inbox
        self._leadership = leadership

    async def resume(self, bot: str) -> tuple[str, float] | None:
        """As `VkInbox.resume`."""
        return await self._inbox.resume(bot)

    async def record(
        self, bot: str, updates: Sequence[dict[str, Any]], ts: str | None
    ) -> list[dict[str, Any]]:
        """As `VkInbox.record`, refused with `LeadershipLost` once another worker leads."""
        return await self._inbox.record(bot, updates, ts, fence=self._leadership.fence)


class VkCallbackAdapter(Adapter):
    """Receives the Callback API of every callback bot through the host's HTTP server.

    Its routes (one POST per bot `path`) are added to the host's application
    by `add_routes`; `run` only keeps the adapter alive beside the others.

    With a `router` (``[cluster] enabled``), an update is recorded where it arrives
    and handled by the worker owning its conversation's partition (`CallbackRouter`):
    `run` owns partitions and hands their rows to the host.
    """

    name = "vk:callback"

    def __init__(
        self,
        platform: VkPlatform,
        bots: Sequence[CallbackBot],
        router: CallbackRouter | None = None,
    ) -> None:
        self._platform = platform
        self._bots = tuple(bots)
        self.router = router
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

        async def route(bot: str, update: dict[str, Any]) -> None:
            assert router is not None
            assert inbox is not None
            inbox.forget(bot, update)  # recorded: its partition's owner handles it
            router.arrived(bot)

        inbox = self._platform.inbox

        router = self.router
        self.receiver = add_callback_routes(
            app, self._bots, sink if router is None else route, journal=self._platform.inbox
        )

    async def run(self, submit: Submit) -> None:
        """Handle what a crash left unhandled, then wait: the HTTP server delivers the updates.

        In a cluster: own partitions and handle their rows, wherever they arrived.
        """
        import anyio

        if self.router is not None:
            await self.router.run(submit)
            return
        for bot in self._bots:
            await self._platform.replay(bot.name, submit)
        await anyio.sleep_forever()

    async def close(self) -> None:
        """Write the handled marks, give the partitions back (a cluster), close the API
        sessions."""
        await self._platform.close()
        if self.router is not None:
            # After the marks: the next owner reads only what this worker left undone.
            await self.router.close()
        for bot in self._bots:
            await self._platform.apis[bot.name].close()


def _lease_of(tenure: Tenure | None) -> Lease | None:
    """`tenure` as the lease a fenced write checks (None: not leading now)."""
    from botrt.storage._internal import Lease  # a cluster's: storage is loaded by then

    return None if tenure is None else Lease(tenure.name, tenure.owner, tenure.epoch, 0.0)
