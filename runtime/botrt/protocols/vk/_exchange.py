"""One VK API request, paced and retried: `Exchange`, the base of `VkApi`.

Each attempt waits for a rate-limiter slot; VK's retryable errors
(6, 9, 10) and transport failures are retried with backoff under the client's
`RetryPolicy`; the token is redacted from VK's error messages.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botrt.protocols.vk._errors import (
    VkApiError,
    VkError,
    VkTransportError,
    api_error_from_object,
)
from botrt.protocols.vk._http import Secret, TransientHttpError, post_form
from botrt.protocols.vk._params import encode_value
from botrt.protocols.vk._ratelimit import RateLimiter
from botrt.protocols.vk._retry import RETRYABLE_CODES, RetryPolicy
from botrt.protocols.vk._timer import Timer

if TYPE_CHECKING:
    import aiohttp

logger = logging.getLogger("botrt.vk.api")


class Exchange:
    """The requests of `VkApi` (see the module)."""

    # Set by `VkApi.__init__`.
    api_url: str
    version: str
    retry: RetryPolicy
    timeout: float
    timer: Timer
    _token: Secret
    _limiter: RateLimiter
    _timeout: aiohttp.ClientTimeout | None
    _jitter: random.Random
    _requests: int
    _urls: dict[str, str]  # method → URL, for `_urls_for` (empty at first)
    _urls_base: str  # the `api_url` `_urls` were made from
    _retries: Counter[int | str]
    _errors: Counter[int]
    http_session: Callable[[], aiohttp.ClientSession]  # `VkApi.http_session`

    def _client_timeout(self) -> aiohttp.ClientTimeout:
        # Made once: building it for every request showed in the reply path's profile.
        if self._timeout is None:
            import aiohttp

            self._timeout = aiohttp.ClientTimeout(total=self.timeout)
        return self._timeout

    def _url(self, method: str) -> str:
        # Made once per method (and again if `api_url` is changed).
        urls = self._urls
        if self._urls_base is not self.api_url:
            urls.clear()
            self._urls_base = self.api_url
        url = urls.get(method)
        if url is None:
            url = urls[method] = f"{self.api_url}/{method}"
        return url

    async def _exchange(
        self,
        method: str,
        params: Mapping[str, Any],
        *,
        held: bool = False,
        started: float | None = None,
    ) -> dict[str, Any]:
        # `request` without the counting and the coalescing, for `SendCoalescer` too:
        # with `held`, the first attempt goes out in a limiter slot the caller took;
        # `started`: the timer's time, when the caller has just read it.
        limiter = self._limiter
        try:
            # Strings and ints (text, peer and random ids: nearly every parameter of
            # a reply) inline, without a call each.
            form = {
                k: v if (kind := type(v)) is str else str(v) if kind is int else encode_value(v)
                for k, v in params.items()
            }
        except BaseException:
            if held:
                limiter.release(used=False)
            raise
        url = self._url(method)
        if started is None:
            started = self.timer.now()
        attempt = 0
        while True:
            attempt += 1
            # The slot is held until the answer is back: see `RateLimiter`.
            if not held:
                await limiter.acquire()
            self._requests += 1
            try:
                body = await post_form(
                    self.http_session(),
                    url,
                    form,
                    token=self._token,
                    version=self.version,
                    client_timeout=self._client_timeout(),
                    method=method,
                )
            except TransientHttpError as exc:
                limiter.release()
                cause: int | str = exc.cause
                failure: VkError = _transport_failure(method, attempt, exc)
                slowdown = 1.0
            except BaseException:
                limiter.release()
                raise
            else:
                limiter.release()
                error = body.get("error")
                if error is None or not isinstance(error, Mapping):
                    return body
                failure = self._api_failure(error, method, params)
                cause = failure.code
                slowdown = RETRYABLE_CODES[failure.code]
            await self._retry_or_raise(failure, cause, slowdown, attempt, started, method)
            held = False  # a retry waits for a slot of its own

    async def _retry_or_raise(
        self,
        failure: VkError,
        cause: int | str,
        slowdown: float,
        attempt: int,
        started: float,
        method: str,
    ) -> None:
        # After a failed attempt only: wait for the next one, or give up with `failure`.
        timer = self.timer
        delay = self.retry.backoff(attempt, slowdown, self._jitter)
        if not self.retry.allows(attempt, timer.now() - started, delay):
            if isinstance(failure, VkApiError):
                self._errors[failure.code] += 1
            raise failure
        self._retries[cause] += 1
        self._log_retry(method, failure, cause, attempt, delay)
        await timer.sleep(delay)

    def _api_failure(
        self, error: Mapping[str, Any], method: str, params: Mapping[str, Any]
    ) -> VkApiError:
        # VK's error object as the error to raise; raised here unless a retry may cure it.
        error = {**error, "error_msg": self._redact(str(error.get("error_msg", "")))}
        failure = api_error_from_object(error, method=method, params=params)
        if failure.code not in RETRYABLE_CODES:
            self._errors[failure.code] += 1
            raise failure
        return failure

    def _log_retry(
        self, method: str, failure: VkError, cause: int | str, attempt: int, delay: float
    ) -> None:
        # Error 6 is routine when several clients share a token: keep it quiet.
        logger.log(
            logging.INFO if cause == 6 else logging.WARNING,
            "VK %s: %s; retry %d of %d in %.2fs",
            method,
            failure if isinstance(failure, VkApiError) else cause,
            attempt,
            self.retry.max_retries,
            delay,
        )

    def _redact(self, text: str) -> str:
        token = self._token.reveal()
        return text.replace(token, "<token>") if token in text else text


def _transport_failure(method: str, attempt: int, exc: TransientHttpError) -> VkTransportError:
    """The error a request that failed in transport ends with, if no retry is left."""
    return VkTransportError(
        f"VK API {method} failed after {attempt} attempt(s): {exc}",
        method=method,
        attempts=attempt,
    )
