"""VK as an `Outbound` and a `MemberSource`: batched sends and the community's member list."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from botrt.adapter import MemberInfo, MemberSource, Outbound, SendOutcome
from botrt.protocols.vk._api import VkApi
from botrt.protocols.vk._batch import EXECUTE_MAX_CALLS, PEER_IDS_MAX
from botrt.protocols.vk._errors import VkApiError
from botrt.protocols.vk._text import split_message

PAGE = 1000  # groups.getMembers returns at most 1000 per call


def job_random_id(key: str, part: int) -> int:
    """A deterministic, non-zero int32 `random_id` for one part of a job.

    VK drops a message whose `random_id` it already saw in that conversation
    within the hour, so resending a job after a crash cannot deliver twice:
    each recipient gets one message per part, always with the same id.
    """
    digest = hashlib.blake2b(f"{key}:{part}".encode(), digest_size=4).digest()
    return (int.from_bytes(digest, "big") & 0x7FFFFFFF) or 1


class VkOutbound(Outbound):
    """Sends through one bot's `VkApi`: `peer_ids` of 100, 25 sends per `execute` request."""

    platform = "vk"
    batch_size = PEER_IDS_MAX * EXECUTE_MAX_CALLS

    def __init__(self, api: VkApi) -> None:
        self.api = api

    async def send(self, peer_id: int, text: str, **options: Any) -> None:
        """Send `text` (split at 4,096 characters) to one conversation.

        :raises VkApiError: if VK refuses.
        """
        parts = split_message(text)
        for index, part in enumerate(parts):
            await self.api.messages.send(
                peer_id=peer_id, message=part, **_options_for(index, len(parts), options)
            )

    async def send_many(
        self, peer_ids: Sequence[int], text: str, *, key: str, **options: Any
    ) -> list[SendOutcome]:
        """Send `text` to every peer in as few requests as VK allows; one outcome per peer.

        A long text is sent in parts; later parts go only to the peers the
        first part reached.

        :raises VkTransportError: if VK cannot be reached (nothing is recorded
            as sent; a retry with the same `key` is absorbed by VK).
        """
        outcomes = {p: SendOutcome(p, True) for p in peer_ids}
        parts = split_message(text)
        for index, part in enumerate(parts):
            targets = [p for p in peer_ids if outcomes[p].ok]
            chunks = [targets[i : i + PEER_IDS_MAX] for i in range(0, len(targets), PEER_IDS_MAX)]
            random_id = job_random_id(key, index)
            calls = [
                (
                    "messages.send",
                    {
                        "peer_ids": chunk,
                        "message": part,
                        "random_id": random_id,
                        **_options_for(index, len(parts), options),
                    },
                )
                for chunk in chunks
            ]
            results = await self.api.execute(calls) if calls else []
            for chunk, result in zip(chunks, results, strict=True):
                for outcome in _outcomes(chunk, result):
                    outcomes[outcome.peer_id] = outcome
        return [outcomes[p] for p in peer_ids]


def _options_for(index: int, count: int, options: dict[str, Any]) -> dict[str, Any]:
    # Attachments, forwarded messages and keyboards go with the last part only,
    # or members would see the same media once per part of a long text.
    if index == count - 1:
        return options
    return {k: v for k, v in options.items() if k not in ("attachment", "forward", "keyboard")}


def _outcomes(chunk: Sequence[int], result: Any) -> list[SendOutcome]:
    if isinstance(result, VkApiError):
        return [SendOutcome(p, False, result.code, result.message) for p in chunk]
    by_peer: dict[int, SendOutcome] = {}
    for item in result if isinstance(result, list) else []:
        if not isinstance(item, dict) or "peer_id" not in item:
            continue
        peer = int(item["peer_id"])
        error = item.get("error")
        if isinstance(error, dict):
            code = error.get("code", error.get("error_code"))
            message = error.get("description", error.get("error_msg"))
            by_peer[peer] = SendOutcome(peer, False, int(code) if code is not None else 0, message)
        else:
            by_peer[peer] = SendOutcome(peer, True)
    return [
        by_peer.get(p, SendOutcome(p, False, 0, "VK's answer did not mention this recipient"))
        for p in chunk
    ]


class VkMemberSource(MemberSource):
    """The members of one community, with names, and its managers with their roles."""

    def __init__(self, api: VkApi, group_id: int) -> None:
        self.api = api
        self.group_id = group_id

    async def fetch(self) -> list[MemberInfo]:
        """Page through ``groups.getMembers`` (1,000 a call), then the managers.

        :raises VkApiError: if VK refuses (the host keeps the stored list).
        """
        managers: dict[int, str] = {}
        for item in await self._pages(filter="managers"):
            if isinstance(item, dict) and "id" in item:
                managers[int(item["id"])] = str(item.get("role") or "manager")
        members: list[MemberInfo] = []
        for item in await self._pages(fields="first_name,last_name"):
            user = item if isinstance(item, dict) else {"id": item}
            uid = int(user["id"])
            members.append(
                MemberInfo(
                    uid,
                    str(user.get("first_name") or ""),
                    str(user.get("last_name") or ""),
                    managers.get(uid),
                )
            )
        return members

    async def _pages(self, **params: Any) -> list[Any]:
        items: list[Any] = []
        offset = 0
        while True:
            page = await self.api.call(
                "groups.getMembers", group_id=self.group_id, offset=offset, count=PAGE, **params
            )
            batch = list(page.get("items") or [])
            items.extend(batch)
            offset += PAGE
            if not batch or offset >= int(page.get("count") or 0):
                return items
