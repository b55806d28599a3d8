"""Bots Long Poll: each group's event queue and the `/lp/<group_id>` `a_check` endpoint."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import anyio
from aiohttp import web

from botrt.testing._fakevk._faults import Faults
from botrt.testing._fakevk._state import LP_BASE_TS, Group, State


def push(group: Group, update: Mapping[str, Any]) -> dict[str, Any]:
    """Queue a copy of `update` on `group`, wake its waiting requests, return the copy."""
    stored = dict(update)
    group.events.append(stored)
    group.notify()
    return stored


def queue_failure(group: Group, code: int) -> None:
    """Make the next `a_check` of `group` answer `{"failed": code}`, waking a waiting one."""
    group.lp_failures.append(code)
    group.notify()


class LongPollEndpoint:
    """Answers `a_check` requests from the groups of `state`, as VK's Long Poll server does."""

    def __init__(self, state: State, faults: Faults) -> None:
        """Serve `state`, subject to faults injected for `"longpoll"`."""
        self._state = state
        self._faults = faults

    async def handle(self, request: web.Request) -> web.Response:
        """Answer at once if events past `ts` are queued, else wait for one or the cap."""
        early = await self._faults.intercept(request, "longpoll")
        if early is not None:
            return early
        self._state.longpoll_requests += 1
        self._state.note_change()
        group = self._state.groups.get(int(request.match_info["group_id"]))
        query = request.query
        if group is None or query.get("act") != "a_check":
            return web.Response(status=404, text="not found")
        try:
            ts = int(query.get("ts", ""))
            wait = float(query.get("wait", "25"))
        except ValueError:
            return web.json_response({"failed": 1, "ts": group.ts})
        deadline = anyio.current_time() + min(wait, self._state.longpoll_wait_cap)
        while True:
            # Checked on every wake-up: a failure or a new key can arrive mid-wait.
            if group.lp_failures:
                return web.json_response(_failure(group, group.lp_failures.popleft()))
            if query.get("key") != group.key:
                return web.json_response({"failed": 2})
            if group.ts > ts or self._state.closing:
                break
            with anyio.move_on_after(deadline - anyio.current_time()) as scope:
                await group.changed.wait()
            if scope.cancelled_caught:
                break
        updates = group.events[max(ts - LP_BASE_TS, 0) :]
        return web.json_response({"ts": str(group.ts), "updates": updates})


def _failure(group: Group, code: int) -> dict[str, Any]:
    if code == 1:
        return {"failed": 1, "ts": group.ts}
    # 2 (key expired) and 3 (information lost) both need a new key, as on VK.
    group.key = secrets.token_hex(20)
    return {"failed": code}
