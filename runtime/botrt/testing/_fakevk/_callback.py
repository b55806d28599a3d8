"""The Callback API sender: POST an update to a bot's server as VK does, with retries."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True, slots=True)
class CallbackResponse:
    """What a Callback API server answered to one delivery attempt (status 0: no answer)."""

    status: int
    text: str
    retry_counter: int | None


async def deliver_callback(
    url: str,
    update: Mapping[str, Any],
    *,
    secret: str | None = None,
    retries: int = 0,
    retry_counter: int | None = None,
    request_timeout: float = 5.0,
) -> list[CallbackResponse]:
    """POST `update` to `url` as VK's Callback API does; return every answer.

    `secret`, if given, is put in the body. Without an `ok` (or, for a
    `confirmation`, without a 200) the update is sent again, up to `retries`
    times and at once, with `X-Retry-Counter` counting the failed attempts;
    `retry_counter` makes even the first attempt look like a retry. A
    connection error or timeout is an answer with status 0, not an exception.
    """
    body = dict(update)
    if secret is not None:
        body["secret"] = secret
    data = json.dumps(body, ensure_ascii=False).encode()
    answers: list[CallbackResponse] = []
    counter = retry_counter
    async with aiohttp.ClientSession() as session:
        for _ in range(retries + 1):
            headers = {"Content-Type": "application/json"}
            if counter:
                headers["X-Retry-Counter"] = str(counter)
            try:
                async with session.post(
                    url,
                    data=data,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(request_timeout),
                ) as response:
                    answer = CallbackResponse(response.status, await response.text(), counter)
            except (aiohttp.ClientError, TimeoutError) as exc:
                answer = CallbackResponse(0, type(exc).__name__, counter)
            answers.append(answer)
            # A confirmation is answered with the code, not "ok"; any 200 ends it.
            accepted = answer.status == 200 and (
                answer.text == "ok" or body.get("type") == "confirmation"
            )
            if accepted:
                break
            counter = (counter or 0) + 1
    return answers
