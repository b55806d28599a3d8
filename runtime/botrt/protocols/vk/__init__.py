"""The VK platform: events, the API client, Bots Long Poll and the Callback API server.

Both transports hand raw updates to one kind of sink, `await sink(bot, update)`;
the host turns them into events and queues them::

    async def on_update(bot: str, update: dict[str, Any]) -> None:
        try:
            event = parse_update(update, bot=bot, api=apis[bot])
        except VkPayloadError:
            log.warning(...)        # VK sent something unexpected: drop it
            return
        await queue.send(event)     # keep it quick: Long Poll waits for it

    # a [[bots]] entry with transport = "longpoll"
    apis[name] = VkApi(token, api_url=api_url, version=api_version, rate_limit=rate_limit)
    poll = BotsLongPoll(apis[name], group_id, bot=name)
    task_group.start_soon(poll.run, on_update)

    # every [[bots]] entry with transport = "callback", on the [server] address
    app = create_callback_app(
        [CallbackBot(name, group_id, path, confirmation, secret)],
        on_update,
        health=lambda: {name: poll.connected},
    )
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    ...
    await runner.cleanup()
    await apis[name].close()
"""

from typing import TYPE_CHECKING, Any

from botrt.protocols.vk._api import ApiStats, VkApi
from botrt.protocols.vk._batch import EXECUTE_MAX_CALLS, PEER_IDS_MAX, SendResult
from botrt.protocols.vk._community import GroupJoin, GroupLeave, VkEvent
from botrt.protocols.vk._docs import upload_document
from botrt.protocols.vk._errors import (
    UNREACHABLE_CODES,
    VkApiError,
    VkConfigError,
    VkError,
    VkPayloadError,
    VkTransportError,
)
from botrt.protocols.vk._events import MessageNew
from botrt.protocols.vk._longpoll import BotsLongPoll, LongPollStatistics, UpdateSink
from botrt.protocols.vk._parse import parse_update
from botrt.protocols.vk._press import MessageEvent
from botrt.protocols.vk._ratelimit import RateLimiter
from botrt.protocols.vk._text import MAX_MESSAGE_LENGTH, split_message, strip_leading_mention
from botrt.protocols.vk._timer import MonotonicTimer, Timer

if TYPE_CHECKING:
    from botrt.protocols.vk._callback import CallbackBot, HealthCheck, create_callback_app

_CALLBACK = frozenset({"CallbackBot", "HealthCheck", "create_callback_app"})

__all__ = [
    "EXECUTE_MAX_CALLS",
    "MAX_MESSAGE_LENGTH",
    "PEER_IDS_MAX",
    "UNREACHABLE_CODES",
    "ApiStats",
    "BotsLongPoll",
    "CallbackBot",
    "GroupJoin",
    "GroupLeave",
    "HealthCheck",
    "LongPollStatistics",
    "MessageEvent",
    "MessageNew",
    "MonotonicTimer",
    "RateLimiter",
    "SendResult",
    "Timer",
    "UpdateSink",
    "VkApi",
    "VkApiError",
    "VkConfigError",
    "VkError",
    "VkEvent",
    "VkPayloadError",
    "VkTransportError",
    "create_callback_app",
    "parse_update",
    "split_message",
    "strip_leading_mention",
    "upload_document",
]


def __getattr__(name: str) -> Any:
    # The Callback API server needs aiohttp.web (~150 ms, ~11 MiB with aiohttp): loaded
    # when one of its names is first used, not by every plugin that names a VK event.
    if name in _CALLBACK:
        from botrt.protocols.vk import _callback

        value = getattr(_callback, name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
