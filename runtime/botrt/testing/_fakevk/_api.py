"""The `/method/<name>` endpoint: token, version, rate limit and faults, then the method.

An `execute` counts as one request for the rate limit; faults injected with
`fail_next` apply to top-level requests only.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from botrt.testing._fakevk._execute import run_execute
from botrt.testing._fakevk._faults import Faults
from botrt.testing._fakevk._methods import dispatch
from botrt.testing._fakevk._state import ApiError, State, injected_text


class ApiEndpoint:
    """Answers API requests from `state`, as VK does, errors included."""

    def __init__(self, state: State, faults: Faults) -> None:
        """Serve `state`, subject to `faults`."""
        self._state = state
        self._faults = faults

    async def handle(self, request: web.Request) -> web.Response:
        """Answer one API request (GET or a POSTed form) with VK's JSON body."""
        method = request.match_info["method"]
        self._state.calls[method] += 1
        self._state.note_change()  # a test may wait for a request to arrive (and be held)
        try:
            early = await self._faults.intercept(request, method)
            if early is not None:
                return early
            params: dict[str, str] = dict(request.query)
            if request.method == "POST":
                params.update({k: str(v) for k, v in (await request.post()).items()})
            token = params.pop("access_token", "")
            try:
                body = self._answer(method, token, params)
            except ApiError as err:
                body = {"error": _error_object(err, method, params)}
            return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))
        finally:
            self._state.note_change()

    def _answer(self, method: str, token: str, params: dict[str, str]) -> dict[str, Any]:
        group = self._state.tokens.get(token)
        if group is None:
            raise ApiError(5, "User authorization failed: invalid access_token (4).")
        if "v" not in params:
            raise ApiError(8, "Invalid request: v (version) is required")
        self._count_against_limit(token)
        code = self._faults.take_vk_error(method)
        if code is not None:
            raise ApiError(code, injected_text(code))
        if method == "execute":
            return run_execute(self._state, group, params)
        return {"response": dispatch(self._state, group, method, params)}

    def _count_against_limit(self, token: str) -> None:
        # A sliding one-second window per token, as VK limits a community token.
        window = self._state.windows.setdefault(token, deque())
        now = time.monotonic()
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= self._state.rate_limit:
            self._state.rate_limited += 1
            raise ApiError(6, "Too many requests per second")
        window.append(now)


def _error_object(err: ApiError, method: str, params: Mapping[str, str]) -> dict[str, Any]:
    # VK echoes the request's parameters, never the token; an execute's code is left out.
    request_params = [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
    request_params += [{"key": k, "value": v} for k, v in params.items() if k != "code"]
    return {"error_code": err.code, "error_msg": err.message, "request_params": request_params}
