"""The exceptions the VK platform raises."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botrt._errors import BotrtError

# VK answers these for one recipient of a `peer_ids` send (or for a single
# `peer_id` send) when the user cannot be written to: nobody should retry them.
UNREACHABLE_CODES = frozenset({901, 902})


class VkError(BotrtError):
    """Base class of every error the VK platform raises on purpose."""


class VkConfigError(VkError, ValueError):
    """A VK component was given settings it cannot work with (see the message)."""


class VkPayloadError(VkError):
    """Something VK sent is not shaped as documented.

    Raised for an update (Long Poll or Callback API) without a `type`, an
    `object` or an id its event needs, and for an `execute` answer that does
    not hold one result per call.
    """


class VkTransportError(VkError):
    """VK could not be reached, or answered with something that is not VK's JSON.

    Raised after the retries `VkApi` allows are spent.

    Attributes:
        method: the API method that was being called.
        attempts: how many requests were made.
    """

    def __init__(self, message: str, *, method: str, attempts: int) -> None:
        super().__init__(message)
        self.method = method
        self.attempts = attempts


class VkApiError(VkError):
    """VK answered an API call with an error object.

    Attributes:
        code: VK's `error_code` (5 = bad token, 100 = bad parameter, 901 = user
            never allowed messages from the community, ...).
        message: VK's `error_msg`.
        method: the API method that failed (for a call inside `execute`, that
            inner method).
        params: the parameters the call was made with, never the access token.
        raw: VK's error object, as received (request parameters named
            `access_token` removed).
    """

    def __init__(
        self,
        code: int,
        message: str,
        method: str,
        *,
        params: Mapping[str, Any] | None = None,
        raw: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"VK API error {code} in {method}: {message}")
        self.code = code
        self.message = message
        self.method = method
        self.params: dict[str, Any] = {
            k: v for k, v in (params or {}).items() if k != "access_token"
        }
        self.raw: dict[str, Any] = _scrub_raw(raw or {})

    @property
    def unreachable(self) -> bool:
        """True when the error means the user cannot be messaged (901, 902)."""
        return self.code in UNREACHABLE_CODES

    def __reduce__(self) -> tuple[Any, ...]:
        # Keeps the error picklable (pytest-xdist, multiprocessing) despite the
        # keyword-only arguments.
        return (
            _rebuild_api_error,
            (self.code, self.message, self.method, self.params, self.raw),
        )

    def __repr__(self) -> str:
        return f"VkApiError(code={self.code}, message={self.message!r}, method={self.method!r})"


def _rebuild_api_error(
    code: int, message: str, method: str, params: dict[str, Any], raw: dict[str, Any]
) -> VkApiError:
    return VkApiError(code, message, method, params=params, raw=raw)


def _scrub_raw(raw: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(raw)
    request_params = out.get("request_params")
    if isinstance(request_params, list):
        out["request_params"] = [
            p
            for p in request_params
            if not (isinstance(p, Mapping) and p.get("key") == "access_token")
        ]
    return out


def api_error_from_object(
    error: Mapping[str, Any], *, method: str, params: Mapping[str, Any] | None = None
) -> VkApiError:
    """Build a `VkApiError` from VK's `error` object (or an `execute_errors` item).

    Tolerates a missing or non-numeric `error_code` (reported as code 0) and a
    missing `error_msg`; the inner `method` of an `execute_errors` item wins
    over `method`.
    """
    try:
        code = int(error.get("error_code", 0))
    except (TypeError, ValueError):
        code = 0
    message = str(error.get("error_msg", "") or "no error message")
    inner_method = error.get("method")
    return VkApiError(
        code,
        message,
        inner_method if isinstance(inner_method, str) and inner_method else method,
        params=params,
        raw=error,
    )
