"""Batching: many API calls in one `execute`, one message to many peers."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botrt import _json
from botrt.protocols.vk._errors import (
    UNREACHABLE_CODES,
    VkApiError,
    VkConfigError,
    VkPayloadError,
    api_error_from_object,
)
from botrt.protocols.vk._params import script_value

if TYPE_CHECKING:
    from botrt.protocols.vk._api import VkApi

EXECUTE_MAX_CALLS = 25
"""VK runs at most 25 API calls in one `execute`."""
PEER_IDS_MAX = 100
"""`messages.send` takes at most 100 `peer_ids`."""

_METHOD_NAME = re.compile(r"^[A-Za-z]+\.[A-Za-z]+$")


@dataclass(frozen=True, slots=True)
class SendResult:
    """What happened to one recipient of `send_many`.

    Attributes:
        peer_id: the recipient.
        message_id: the sent message's id, None if it was not sent.
        conversation_message_id: its id inside the conversation, if VK gave one.
        error_code: VK's error code when it was not sent (901/902: the user
            cannot be messaged; 0: VK's answer did not mention this peer).
        error_message: VK's description of the error.
    """

    peer_id: int
    message_id: int | None = None
    conversation_message_id: int | None = None
    error_code: int | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        """True when VK accepted the message for this peer."""
        return self.error_code is None

    @property
    def unreachable(self) -> bool:
        """True when the peer cannot be messaged at all (901, 902): do not retry."""
        return self.error_code in UNREACHABLE_CODES


def build_execute_code(calls: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """Return the VKScript `return [API.a.b({...}), ...];` for `calls`.

    Arguments are written as a JSON object; values are encoded as for a form
    (lists joined by commas, objects as JSON strings) except numbers.

    :raises VkConfigError: if a method name is not `namespace.method`.
    """
    parts = []
    for method, params in calls:
        if not _METHOD_NAME.match(method):
            raise VkConfigError(f"{method!r} is not a VK method name like 'messages.send'")
        args = {k: script_value(v) for k, v in params.items() if v is not None}
        parts.append(f"API.{method}({_json.dumps(args)})")
    return "return [" + ",".join(parts) + "];"


async def execute(api: VkApi, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
    """Run `calls` (method, params) with as few `execute` requests as possible.

    Calls go 25 per request, in order; each result is the call's `response`,
    or a `VkApiError` for a call that failed inside `execute` (VK puts
    `false` at its position and the error in `execute_errors`, in order).
    Failed calls inside `execute` are not retried, whatever their code: the
    caller decides. `messages.send` gets a `random_id` as with `VkApi.call`.

    :raises VkApiError: if an `execute` request as a whole fails (12 or 13:
        the script did not compile or run; 5: bad token; ...).
    :raises VkTransportError: if VK cannot be reached.
    :raises VkPayloadError: if VK's answer does not have one result per call.
    :raises VkConfigError: if a method name is malformed.
    """
    prepared = [(method, api.prepare(method, params)) for method, params in calls]
    results: list[Any] = []
    for start in range(0, len(prepared), EXECUTE_MAX_CALLS):
        chunk = prepared[start : start + EXECUTE_MAX_CALLS]
        body = await api.request("execute", {"code": build_execute_code(chunk)})
        results.extend(execute_results(chunk, body))
    return results


def execute_results(
    calls: Sequence[tuple[str, Mapping[str, Any]]], body: Mapping[str, Any]
) -> list[Any]:
    """Split VK's answer `body` to one `execute` of `calls` into one result per call.

    Each result is the call's `response`, or a `VkApiError` for a call that
    failed inside `execute` (VK puts `false` at its position and the error in
    `execute_errors`, in order).

    :raises VkPayloadError: if VK's answer does not have one result per call.
    """
    response = body.get("response")
    if not isinstance(response, list) or len(response) != len(calls):
        raise VkPayloadError(
            f"execute answered {type(response).__name__} for {len(calls)} calls, "
            "expected one result per call"
        )
    errors = [e for e in body.get("execute_errors") or [] if isinstance(e, Mapping)]
    results: list[Any] = []
    for (method, params), value in zip(calls, response, strict=True):
        # `false` is also a legal result of some methods: only take an
        # error when the next reported one names this call's method.
        if value is False and errors and _same_method(errors[0], method):
            results.append(api_error_from_object(errors.pop(0), method=method, params=params))
        else:
            results.append(value)
    return results


async def send_many(
    api: VkApi, peer_ids: Sequence[int], message: str, **params: Any
) -> list[SendResult]:
    """Send `message` to every peer with `messages.send`, 100 `peer_ids` at a time.

    Returns one `SendResult` per peer, in the order given. An error VK gives
    for the whole request (914 message too long, ...) is reported for every
    peer of that request; a per-recipient error (901, 902, ...) for its peer
    only. `params` are more `messages.send` parameters (`attachment`,
    `keyboard`, a deterministic `random_id`: VK drops a second message with
    the same `random_id` to the same peer within an hour).

    :raises VkTransportError: if VK cannot be reached; the results of earlier
        requests are lost with it, so resumable jobs should pass at most 100
        peers per call and record each result.
    """
    results: list[SendResult] = []
    peers = [int(p) for p in peer_ids]
    for start in range(0, len(peers), PEER_IDS_MAX):
        chunk = peers[start : start + PEER_IDS_MAX]
        try:
            response = await api.call("messages.send", peer_ids=chunk, message=message, **params)
        except VkApiError as err:
            results.extend(
                SendResult(p, error_code=err.code, error_message=err.message) for p in chunk
            )
            continue
        results.extend(_chunk_results(chunk, response))
    return results


def _chunk_results(chunk: list[int], response: Any) -> list[SendResult]:
    items: dict[int, Mapping[str, Any]] = {}
    for item in response if isinstance(response, list) else []:
        if isinstance(item, Mapping) and item.get("peer_id") is not None:
            items[int(item["peer_id"])] = item
    out = []
    for peer in chunk:
        item = items.get(peer)
        if item is None:
            out.append(SendResult(peer, error_code=0, error_message="VK returned no result"))
            continue
        error = item.get("error")
        if isinstance(error, Mapping):
            code = error.get("code", error.get("error_code", 0))
            text = error.get("description", error.get("error_msg", ""))
            out.append(SendResult(peer, error_code=int(code), error_message=str(text)))
            continue
        out.append(
            SendResult(
                peer,
                message_id=_int_or_none(item.get("message_id")),
                conversation_message_id=_int_or_none(item.get("conversation_message_id")),
            )
        )
    return out


def _same_method(error: Mapping[str, Any], method: str) -> bool:
    reported = error.get("method")
    return not isinstance(reported, str) or reported.lower() == method.lower()


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None
