"""Injected faults: failed answers, dropped connections and slow replies."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

import anyio
from aiohttp import web

from botrt.testing._fakevk._state import FakeVKError


@dataclass
class _Fault:
    http_status: int | None
    vk_error: int | None
    times: int


@dataclass
class Faults:
    """What the next requests should suffer, by endpoint name.

    A name is an API method (`"messages.send"`), `"longpoll"` for `a_check`,
    `"upload"` for the upload endpoint, or, for dropped connections only,
    `"*"` for any request.
    """

    _queued: dict[str, deque[_Fault]] = field(default_factory=dict)
    _drops: Counter[str] = field(default_factory=Counter)
    _delay: float = 0.0
    _holds: dict[str, anyio.Event] = field(default_factory=dict)

    def fail_next(
        self,
        name: str,
        *,
        http_status: int | None = None,
        vk_error: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next `times` requests for `name` fail; see `FakeVK.fail_next`.

        :raises FakeVKError: unless exactly one of `http_status` and `vk_error` is given.
        """
        if (http_status is None) == (vk_error is None):
            raise FakeVKError("give exactly one of http_status and vk_error")
        self._queued.setdefault(name, deque()).append(_Fault(http_status, vk_error, times))

    def drop_next_connection(self, name: str, times: int) -> None:
        """Close the connection, unanswered, on the next `times` requests for `name`."""
        self._drops[name] += times

    def slow(self, seconds: float) -> None:
        """Delay every answer by `seconds` from now on (0 to stop)."""
        self._delay = seconds

    def hold(self, name: str) -> None:
        """Keep requests for `name` (or any, for `"*"`) unanswered until `release`."""
        self._holds.setdefault(name, anyio.Event())

    def release(self, name: str) -> None:
        """Let the requests `hold` kept for `name` go on, and stop holding new ones."""
        held = self._holds.pop(name, None)
        if held is not None:
            held.set()

    async def intercept(self, request: web.Request, name: str) -> web.Response | None:
        """Apply a hold, a drop, the delay and an HTTP fault queued for `name`.

        Return the response to send instead of the real one, or None to go on.
        """
        for key in (name, "*"):
            held = self._holds.get(key)
            if held is not None:
                await held.wait()
        for key in (name, "*"):
            if self._drops[key] > 0:
                self._drops[key] -= 1
                if request.transport is not None:
                    request.transport.close()
                return web.Response(text="dropped")
        if self._delay:
            await anyio.sleep(self._delay)
        queue = self._queued.get(name)
        if queue and queue[0].http_status is not None:
            status = queue[0].http_status
            self._use(queue)
            return web.Response(status=status, text="<html>error</html>", content_type="text/html")
        return None

    def take_vk_error(self, name: str) -> int | None:
        """Return the VK error code queued next for `name` and use it up, or None.

        An HTTP fault queued before it stays first: it is taken by `intercept`.
        """
        queue = self._queued.get(name)
        if not queue or queue[0].vk_error is None:
            return None
        code = queue[0].vk_error
        self._use(queue)
        return code

    @staticmethod
    def _use(queue: deque[_Fault]) -> None:
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
