"""One HTTP exchange with VK's API, sorted into success, retryable and final failures."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from botrt import _json
from botrt.protocols.vk._errors import VkTransportError

if TYPE_CHECKING:
    import aiohttp


# Outside botrt's tree: `VkApi` retries on it and raises `VkTransportError` once the
# retries are spent, so it never reaches a caller.
class TransientHttpError(Exception):
    """An exchange failed in a way worth retrying (5xx, 429, network, timeout, not JSON).

    Attributes:
        cause: a short key for statistics (`"http_502"`, `"network"`, ...).
        detail: more about it, for logs.
    """

    def __init__(self, cause: str, detail: str = "") -> None:
        super().__init__(f"{cause} ({detail})" if detail else cause)
        self.cause = cause
        self.detail = detail


# VK's answer to nearly every reply (`messages.send` to one peer): read without the
# generic JSON decoder, which costs a reply several times more (encoding detection,
# two regex passes, the scanner). Anything else goes through the decoder.
_RESPONSE_INT = re.compile(rb'\{"response": ?(-?(?:0|[1-9][0-9]{0,17}))\}')


class Secret:
    """Holds a token so that no repr, log line or dump of locals can show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself; use it only where it is sent."""
        return self._value

    def __repr__(self) -> str:
        return "<secret>"


async def post_form(
    session: aiohttp.ClientSession,
    url: str,
    form: dict[str, str],
    *,
    token: Secret,
    version: str,
    client_timeout: aiohttp.ClientTimeout,
    method: str,
) -> dict[str, Any]:
    """POST `form` plus the token and version to `url`; return VK's JSON object.

    :raises TransientHttpError: on HTTP 5xx or 429, a connection error, a
        timeout, or a body that is not a JSON object.
    :raises VkTransportError: on any other HTTP status than 200 (a wrong URL).
    """
    try:
        async with session.post(
            url,
            # Built in the call, so that no local variable holds the token.
            data={**form, "access_token": token.reveal(), "v": version},
            timeout=client_timeout,
        ) as response:
            status = response.status
            payload = await response.read()
    except TimeoutError:
        raise TransientHttpError("timeout") from None
    except Exception as exc:
        # Imported here, on a failure only: see `VkApi.http_session`.
        import aiohttp

        if isinstance(exc, aiohttp.ClientError):
            raise TransientHttpError("network", type(exc).__name__) from None
        raise
    if status != 200:
        raise _refused(status, method)
    match = _RESPONSE_INT.fullmatch(payload)
    if match is not None:
        return {"response": int(match[1])}
    try:
        body = _json.loads(payload)
    except ValueError:
        raise TransientHttpError("bad_json") from None
    if not isinstance(body, dict):
        raise TransientHttpError("bad_json", "not an object")
    return body


def _refused(status: int, method: str) -> Exception:
    """The error for an HTTP status other than 200: worth a retry (5xx, 429), or not."""
    if status >= 500 or status == 429:
        return TransientHttpError(f"http_{status}")
    return VkTransportError(
        f"VK API {method} answered HTTP {status}; is the api_url right?",
        method=method,
        attempts=1,
    )
