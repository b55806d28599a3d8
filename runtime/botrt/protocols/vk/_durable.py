"""Durable delivery for VK: updates go through the storage's inbox before the host sees them.

`VkInbox` is what the transports use: the Long Poll records each `a_check` batch
with its new `ts` (`record`), the Callback API records each update before it
answers `ok` (`accept`), and a start replays what a crash left recorded and
unhandled (`unhandled`). Each event handed to the host carries an `on_handled`
that marks its update done; a parsed event also answers through `ReplyApi`, so
its replies keep the same `random_id` when the update is handled again after a
crash and VK drops the copies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from botrt.protocols.vk._outbound import job_random_id

if TYPE_CHECKING:
    from botrt.protocols.vk._api import VkApi
    from botrt.storage._internal import Fence, Inbox, Lease


def update_key(update: dict[str, Any]) -> str:
    """The id that tells an update from its retries and replays: VK's `event_id`.

    An update without one (old API versions, hand-made tests) gets a digest of
    its content instead, so an identical copy is still recognised. Raises nothing.
    """
    event_id = update.get("event_id")
    if event_id is not None:
        return str(event_id)
    text = json.dumps(update, sort_keys=True, ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def encode(update: dict[str, Any]) -> str:
    """An update as stored in the inbox (compact JSON). Raises nothing."""
    return json.dumps(update, ensure_ascii=False, separators=(",", ":"), default=str)


class VkInbox:
    """The storage's `Inbox` as VK's transports use it: updates as dicts, keyed by `update_key`."""

    def __init__(self, inbox: Inbox) -> None:
        """Wrap `inbox`. Raises nothing."""
        self.inbox = inbox

    def accept(self, bot: str, update: dict[str, Any], body: str | None = None) -> Awaitable[bool]:
        """Record one Callback update; await it: True if new (hand it on), False for a retry.

        `body` is `update` as JSON text when the caller has it (the request's
        body without the secret); without it, the update is encoded here.
        Returns the inbox's future itself (no coroutine around it: one per request).

        :raises StorageError: from the awaitable, if the storage cannot be reached
            (answer VK an error: it will retry).
        """
        return self.inbox.accept(bot, update_key(update), encode(update) if body is None else body)

    async def record(
        self,
        bot: str,
        updates: Sequence[dict[str, Any]],
        ts: str | None,
        *,
        fence: Fence | None = None,
    ) -> list[dict[str, Any]]:
        """Record one Long Poll batch and the `ts` after it; returns the updates not seen before.

        `fence` runs first in the same transaction (`Inbox.record`).

        :raises StorageError: if the storage cannot be reached (nothing recorded).
        """
        items = [(update_key(u), encode(u)) for u in updates]
        fresh = await self.inbox.record(bot, items, ts, fence=fence)
        return [u for u, new in zip(updates, fresh, strict=True) if new]

    async def resume(self, bot: str) -> tuple[str, float] | None:
        """The stored Long Poll `ts` of `bot` and how many seconds ago it was stored, or None.

        :raises StorageError: if the storage cannot be reached.
        """
        stored = await self.inbox.position(bot)
        if stored is None:
            return None
        ts, at = stored
        return ts, self.inbox.now() - at

    async def unhandled(self, bot: str) -> list[dict[str, Any]]:
        """The updates of `bot` a previous process recorded and never handled, oldest first.

        :raises StorageError: if the storage cannot be reached.
        """
        return [json.loads(body) for _, body in await self.inbox.unhandled(bot)]

    def forget(self, bot: str, update: dict[str, Any]) -> None:
        """`update` was recorded here and is handled elsewhere (a cluster's owner): forget it.

        Raises nothing.
        """
        self.inbox.forget(bot, update_key(update))

    def marker(self, bot: str, update: dict[str, Any], fence: Lease | None = None) -> partial[None]:
        """What marks `update` handled: an event's `on_handled`. Raises nothing.

        With `fence`, the mark is written only while that lease still holds (`Inbox.done`).
        """
        if fence is None:
            return partial(self.inbox.done, bot, update_key(update))
        return partial(self.inbox.done, bot, update_key(update), fence)

    async def close(self) -> None:
        """Write the handled marks made so far and release the inbox (at a stop).

        :raises StorageError: if the storage cannot be reached.
        """
        await self.inbox.close()


class ReplyApi:
    """A bot's `VkApi` as one update's event sees it: the same, except `messages.send`.

    A `messages.send` without a `random_id` gets one derived from the bot, the
    update's id and how many sends this event made before (the n-th message of
    the handling): handling the update again after a crash sends the same ids,
    and VK drops the messages it already has. Sends made concurrently within one
    handling may be numbered in another order the second time; sequential ones
    (a reply, then another) keep theirs.
    """

    __slots__ = ("_api", "_key", "_sent")

    def __init__(self, api: VkApi, bot: str, key: str) -> None:
        """Answer through `api` for update `key` of `bot`. Raises nothing."""
        self._api = api
        self._key = f"reply:{bot}:{key}"
        self._sent = 0

    async def call(self, method: str, **params: Any) -> Any:
        """`VkApi.call`, with the derived `random_id` for `messages.send`.

        :raises VkApiError: as `VkApi.call`.
        :raises VkTransportError: as `VkApi.call`.
        """
        if method == "messages.send" and params.get("random_id") is None:
            params["random_id"] = job_random_id(self._key, self._sent)
            self._sent += 1
        return await self._api.call(method, **params)

    def _send_text(self, peer_id: int, text: str) -> Awaitable[dict[str, Any]]:
        # `MessageNew.reply`'s short way for the usual reply (one piece, no options):
        # `VkApi`'s own, with the derived id, numbered as `call` numbers its sends.
        random_id = job_random_id(self._key, self._sent)
        self._sent += 1
        return self._api._send_text(peer_id, text, random_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)
