"""A Long Poll's requests to VK: a server and key, one ``a_check``, the pause after a failure.

`ServerSteps` is mixed into `BotsLongPoll`; `_PollError` is a failed request
worth retrying, which the poll loop catches.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from botrt import _json
from botrt._backoff import Backoff

if TYPE_CHECKING:
    from botrt.protocols.vk._api import VkApi

logger = logging.getLogger("botrt.vk.longpoll")


# Outside botrt's tree: the poll loop catches it, backs off and retries.
class _PollError(Exception):
    """One `a_check` request failed in a way worth retrying."""


class ServerSteps:
    """The requests of `BotsLongPoll` (see the module)."""

    # Set by `BotsLongPoll.__init__`.
    api: VkApi
    group_id: int
    bot: str
    wait: int
    _server: str | None
    _key: str | None
    _ts: str | None
    _connected: bool
    _backoff: Backoff
    _requests: int
    _errors: int

    async def _get_server(self) -> None:
        answer = await self.api.call("groups.getLongPollServer", group_id=self.group_id)
        if not isinstance(answer, dict) or not answer.get("server") or not answer.get("key"):
            raise _PollError("groups.getLongPollServer answered without server/key")
        server = str(answer["server"])
        self._server = server if "://" in server else f"https://{server}"
        self._key = str(answer["key"])
        if self._ts is None:
            if answer.get("ts") is None:
                raise _PollError("groups.getLongPollServer answered without ts")
            self._ts = str(answer["ts"])

    async def _check(self) -> dict[str, Any]:
        # On first use, not at the top: see `VkApi.http_session`.
        import aiohttp

        server, key, ts = self._server, self._key, self._ts
        if server is None or key is None or ts is None:
            raise _PollError("no Long Poll server yet")
        params = {"act": "a_check", "key": key, "ts": ts, "wait": str(self.wait)}
        self._requests += 1
        session = self.api.http_session()
        try:
            async with session.get(
                server,
                params=params,
                # VK holds the request up to `wait` seconds; give it room.
                timeout=aiohttp.ClientTimeout(total=self.wait + 15),
            ) as response:
                status = response.status
                payload = await response.read()
        except TimeoutError:
            raise _PollError("timeout") from None
        except aiohttp.ClientError as exc:
            # The exception text may hold the URL, and so the key: name it only.
            raise _PollError(f"network ({type(exc).__name__})") from None
        if status != 200:
            raise _PollError(f"HTTP {status}")
        try:
            body = _json.loads(payload)
        except ValueError:
            raise _PollError("bad JSON") from None
        if not isinstance(body, dict):
            raise _PollError("bad JSON")
        self._connected = True
        return body

    async def _pause(self, failures: int, exc: Exception) -> None:
        self._connected = False
        self._errors += 1
        delay = self._backoff.delay(failures)
        logger.warning(
            "bot %s: Long Poll request failed (%s); retry %d in %.2fs",
            self.bot,
            exc,
            failures,
            delay,
        )
        await self.api.timer.sleep(delay)
