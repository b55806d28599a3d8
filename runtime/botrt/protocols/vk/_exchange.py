"""One VK API request, paced and retried: `Exchange`, the base of `VkApi`.

Each attempt waits for a rate-limiter slot (`_send`); VK's retryable errors
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
    _retries: Counter[int | str]
    _errors: Counter[int]
    http_session: Callable[[], aiohttp.ClientSession]  # `VkApi.http_session`

    def _client_timeout(self) -> aiohttp.ClientTimeout:
        # Made once: building it for every request showed in the reply path's profile.
        if self._timeout is None:
            import aiohttp

            self._timeout = aiohttp.ClientTimeout(total=self.timeout)
        return self._timeout

    async def _exchange(
        self, method: str, params: Mapping[str, Any], *, held: bool = False
    ) -> dict[str, Any]:
        # `request` without the counting and the coalescing, for `SendCoalescer` too:
        # with `held`, the first attempt goes out in a limiter slot the caller took.
        try:
            form = {k: encode_value(v) for k, v in params.items()}
        except BaseException:
            if held:
                self._limiter.release(used=False)
            raise
        url = f"{self.api_url}/{method}"
        timer = self.timer
        started = timer.now()
        attempt = 0
        while True:
            attempt += 1
            try:
                body = await self._send(url, form, method, held)
            except TransientHttpError as exc:
                cause: int | str = exc.cause
                failure: VkError = VkTransportError(
                    f"VK API {method} failed after {attempt} attempt(s): {exc}",
                    method=method,
                    attempts=attempt,
                )
                slowdown = 1.0
            else:
                error = body.get("error")
                if not isinstance(error, Mapping):
                    return body
                failure = self._api_failure(error, method, params)
                cause = failure.code
                slowdown = RETRYABLE_CODES[failure.code]
            delay = self.retry.backoff(attempt, slowdown, self._jitter)
            if not self.retry.allows(attempt, timer.now() - started, delay):
                if isinstance(failure, VkApiError):
                    self._errors[failure.code] += 1
                raise failure
            held = False  # a retry waits for a slot of its own
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

    async def _send(
        self, url: str, form: dict[str, str], method: str, held: bool
    ) -> dict[str, Any]:
        # The slot is held until the answer is back: see `RateLimiter`.
        if not held:
            await self._limiter.acquire()
        self._requests += 1
        try:
            return await post_form(
                self.http_session(),
                url,
                form,
                token=self._token,
                version=self.version,
                client_timeout=self._client_timeout(),
                method=method,
            )
        finally:
            self._limiter.release()

    def _redact(self, text: str) -> str:
        token = self._token.reveal()
        return text.replace(token, "<token>") if token in text else text
