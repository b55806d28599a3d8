"""Registers VK with the host (entry point ``botrt: vk``): adapters and the `VkApi` service.

The entry point is loaded by every host, VK bots or not, so this module imports
only what its hooks need for any event; the VK machinery (API client, adapters,
the Callback API server, metrics) is imported when a ``[[bots]]`` entry uses VK.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from botrt.handle import NoMatch
from botrt.hooks import hookimpl
from botrt.protocols.vk._events import GroupJoin, GroupLeave

log = logging.getLogger("botrt.vk")

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from botrt.adapter import Adapter, Event
    from botrt.config import VkBotConfig
    from botrt.handle._internal import FlowRun
    from botrt.host import Host
    from botrt.protocols.vk._adapters import VkPlatform
    from botrt.protocols.vk._api import VkApi
    from botrt.protocols.vk._durable import VkInbox
    from botrt.protocols.vk._leader import Leadership
    from botrt.protocols.vk._routing import CallbackRouter
    from botrt.protocols.vk._typing import Typing


@hookimpl
def botrt_adapters(host: Host) -> list[Adapter]:
    """One adapter per Long Poll bot and one HTTP server for the Callback bots.

    Also makes `VkApi` injectable: a node annotated with it receives the API
    client of the bot that received the event (and is skipped for events of
    other platforms).
    """
    bots = [b for b in host.config.bots if b.platform == "vk"]
    if not bots:
        return []
    if host.pm.get_plugin(MemberTracker.name) is None:
        from botrt.protocols.vk._typing import Typing

        typing = Typing(busy=host.busy, prefixes=lambda: host.dispatcher.prefixes)
        host.pm.register(MemberTracker(typing), name=MemberTracker.name)
    from botrt.protocols.vk._adapters import VkLongPollAdapter

    platform = _platform(host, bots)
    polled = [b for b in bots if b.transport == "longpoll"]
    leads = _leaderships(host, platform, [b.name for b in polled])
    pollers = [VkLongPollAdapter(platform, b.name, b.group_id, leads.get(b.name)) for b in polled]
    adapters: list[Adapter] = list(pollers)
    callback = _callback_adapter(host, platform, bots)
    if callback is not None:
        adapters.append(callback)
    if host.metrics.registry is not None:  # None: metrics are off, nothing can scrape them
        # Here: prometheus-client is loaded only where there is a registry.
        from botrt.protocols.vk._metrics import VkApiCollector

        host.metrics.registry.register(VkApiCollector(platform))
    return adapters


def _platform(host: Host, bots: list[VkBotConfig]) -> VkPlatform:
    # The bots' API clients, injectable as `VkApi`, and each bot's outbound and members.
    from botrt.protocols.vk._adapters import VkPlatform
    from botrt.protocols.vk._api import VkApi
    from botrt.protocols.vk._outbound import VkMemberSource, VkOutbound

    platform = VkPlatform(
        {
            b.name: VkApi(
                b.token, api_url=b.api_url, version=b.api_version, rate_limit=b.rate_limit
            )
            for b in bots
        },
        _inbox(host),
    )
    if host.config.cluster.enabled and host.dispatcher.states is not None:
        platform.adopt = host.dispatcher.states.adopt  # takeovers read others' states
        platform.fence = host.dispatcher.states.fence  # a stale owner's writes are refused

    def provide(run: FlowRun) -> VkApi:
        api = platform.api_for(run.event)
        if api is None:
            raise NoMatch
        return api

    host.services.register(VkApi, provide)
    for b in bots:
        api = platform.apis[b.name]
        host.register_bot(b.name, outbound=VkOutbound(api), members=VkMemberSource(api, b.group_id))
    return platform


def _callback_adapter(host: Host, platform: VkPlatform, bots: list[VkBotConfig]) -> Adapter | None:
    # One HTTP server's routes for every Callback API bot (None: there is none).
    from botrt.protocols.vk._adapters import VkCallbackAdapter
    from botrt.protocols.vk._callback import CallbackBot

    callback = [
        CallbackBot(b.name, b.group_id, b.path or f"/vk/{b.name}", b.confirmation or "", b.secret)
        for b in bots
        if b.transport == "callback"
    ]
    if not callback:
        return None
    if not host.config.server_active:
        log.error(
            "bots %s use the Callback API but [server] enabled = false: they will receive nothing",
            ", ".join(b.name for b in callback),
        )
    router = _router(host, platform, [b.name for b in callback])
    return VkCallbackAdapter(platform, callback, router)


def _leaderships(host: Host, platform: VkPlatform, names: list[str]) -> dict[str, Leadership]:
    # A cluster's workers poll each bot one at a time: a lease per bot (docs/operations.md).
    cluster = host.config.cluster
    if not cluster.enabled or not names:
        return {}
    from botrt.protocols.vk._errors import VkConfigError

    if host.storage is None:
        raise VkConfigError("[cluster] enabled needs the storage: its leases coordinate workers")
    from botrt.protocols.vk._leader import Leadership
    from botrt.protocols.vk._leases import StorageLeases

    leases = StorageLeases(host.storage, host.info.clock)
    log.info(
        "cluster worker %s: leads the Long Poll of bots %s when their lease is free "
        "(failover %g s)",
        cluster.worker_id,
        ", ".join(names),
        cluster.failover,
    )
    return {
        name: Leadership(
            leases,
            f"vk-longpoll:{name}",
            cluster.worker_id,
            failover=cluster.failover,
            timer=platform.apis[name].timer,
        )
        for name in names
    }


def _router(host: Host, platform: VkPlatform, names: list[str]) -> CallbackRouter | None:
    # A cluster's Callback updates are handled by their conversation's owner, wherever
    # they arrived (`_routing`, docs/operations.md).
    cluster = host.config.cluster
    if not cluster.enabled or not names:
        return None
    from botrt.protocols.vk._errors import VkConfigError

    if host.storage is None:
        raise VkConfigError("[cluster] enabled needs the storage: its inbox routes updates")
    from botrt.protocols.vk._routing import CallbackRouter

    log.info(
        "cluster worker %s: handles the Callback API conversations of bots %s in the "
        "partitions it owns (failover %g s)",
        cluster.worker_id,
        ", ".join(names),
        cluster.failover,
    )
    router = CallbackRouter(
        platform,
        host.storage,
        host.info.clock,
        names,
        owner=cluster.worker_id,
        failover=cluster.failover,
    )
    limits = {b.name: b.rate_limit for b in host.config.bots}
    for name, assignment in router.assignments.items():
        assignment.on_live = _share(platform.apis[name], limits[name], name)
    return router


def _share(api: VkApi, rate: float, bot: str) -> Callable[[int], None]:
    # VK's limit is per token, whichever worker sends: each live worker of the cluster
    # gets an equal share of it, counted at every lease round (docs/cluster.md).
    def follow(live: int) -> None:
        api.rate_limit = rate / live
        log.info(
            "bot %s: this worker sends up to %g requests/s (rate_limit %g shared by %d workers)",
            bot,
            rate / live,
            rate,
            live,
        )

    return follow


def _inbox(host: Host) -> VkInbox | None:
    # Durable delivery needs the storage: updates are recorded there before they
    # are handled, and the Long Poll position is kept there (docs/operations.md).
    if host.storage is None:
        return None
    from botrt.protocols.vk._durable import VkInbox
    from botrt.storage._internal import Inbox

    clock = host.info.clock
    return VkInbox(Inbox(host.storage, now=lambda: clock.now().timestamp()))


class MemberTracker:
    """VK's middleware: keeps the stored member list current as people join and leave,
    and shows "typing" in a chat while a command there runs (`typing`, see `_typing`).

    Registered by `botrt_adapters` only when a ``[[bots]]`` entry uses VK: as
    middleware it runs for every event, so a host with no VK bot (the console)
    must not carry it. One hook implementation does both jobs, since pluggy
    calls every implementation for every event.

    Attributes:
        typing: the indicator's state (a test may replace its ``timers``), or None.
    """

    name = "botrt-vk-members"

    def __init__(self, typing: Typing | None = None) -> None:
        self.typing = typing

    @hookimpl
    def botrt_event_received(self, host: Host, event: Event) -> Awaitable[None] | None:
        """Arm "typing" for a command, record a `GroupJoin` or `GroupLeave`; let every event
        through."""
        if event.platform != "vk":
            return None
        typing = self.typing
        if typing is not None:
            typing.arm(event)
        if host.members is None:
            return None
        if isinstance(event, GroupJoin):
            return _joined(host, event)
        if isinstance(event, GroupLeave):
            return host.members.left(event.bot, event.user_id)
        return None

    @hookimpl
    def botrt_host_stopping(self, host: Host) -> None:
        """Drop the "typing" calls in flight."""
        if self.typing is not None:
            self.typing.close()


async def _joined(host: Host, event: GroupJoin) -> None:
    # Not at the top: only a bot that receives VK events needs the VK client.
    from botrt.protocols.vk._outbound import VkOutbound

    first = last = ""
    outbound = host.outbound.get(event.bot)
    if isinstance(outbound, VkOutbound):
        try:
            (user,) = await outbound.api.call("users.get", user_ids=event.user_id)
            first, last = str(user.get("first_name", "")), str(user.get("last_name", ""))
        except Exception:  # a name is nice to have; the membership is what matters
            pass
    assert host.members is not None
    await host.members.joined(event.bot, event.user_id, first, last)
