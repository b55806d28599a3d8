"""`VkApi`: VK API calls over one aiohttp session, paced, retried, token kept secret.

The client's surface is here; one request's pacing, retries and redaction in
its base, `_exchange.Exchange`.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from botrt.protocols.vk._batch import SendResult, execute, send_many
from botrt.protocols.vk._coalesce import SendCoalescer
from botrt.protocols.vk._errors import VkConfigError, VkError
from botrt.protocols.vk._exchange import Exchange
from botrt.protocols.vk._http import Secret
from botrt.protocols.vk._ratelimit import LimiterStatistics, RateLimiter
from botrt.protocols.vk._retry import RetryPolicy
from botrt.protocols.vk._timer import MonotonicTimer, Timer

if TYPE_CHECKING:
    import aiohttp

DEFAULT_API_URL = "https://api.vk.com/method"
DEFAULT_VERSION = "5.199"

_INT32_MAX = 2**31 - 1
_bits = random.getrandbits  # the module's generator: seeded from the OS, again in a fork


def _random_id() -> int:
    """A random positive int32 for `messages.send`'s `random_id`.

    It needs to be unpredictable to no one, only unlikely to repeat within VK's
    window (a conversation's last hour): the Mersenne Twister of `random`,
    which is reseeded in a forked worker, costs 40 ns an id against 1.2 µs for
    `secrets.randbelow` (a system call per id).
    """
    return _bits(31) or _INT32_MAX


@dataclass(frozen=True, slots=True)
class ApiStats:
    """A snapshot of what a `VkApi` has done, for metrics and logs.

    Attributes:
        requests: HTTP requests sent, retries included (`execute` is one).
        calls: API calls made by callers, by method.
        retries: retries, by cause: the VK error code (6, 9, 10) or a
            transport cause (`"http_502"`, `"timeout"`, `"network"`, `"bad_json"`).
        errors: `VkApiError`s raised to callers, by code.
        limiter: the rate limiter's counters.
        coalesced: `messages.send` calls that went out inside an `execute`
            with others, because they waited for the rate limiter together.
    """

    requests: int
    calls: dict[str, int] = field(default_factory=dict)
    retries: dict[int | str, int] = field(default_factory=dict)
    errors: dict[int, int] = field(default_factory=dict)
    limiter: LimiterStatistics | None = None
    coalesced: int = 0


class VkApi(Exchange):
    """A client for the VK API, one per bot account.

    Use it as `async with VkApi(token) as api:` or call `await api.close()`.
    Methods can be called as `await api.call("messages.send", peer_id=1,
    message="hi")` or `await api.messages.send(peer_id=1, message="hi")`.

    Every request, retries included, waits for the shared rate limiter
    (`rate_limit` per second). Errors 6, 9 and 10, HTTP 5xx and 429,
    connection errors, timeouts and non-JSON answers are retried with
    exponential backoff and full jitter, at most `max_retries` times and
    within `max_retry_time` seconds. The token is sent in the request body and
    never appears in `repr`, logs or errors.

    Replies go out as fast as VK's limit allows: a `messages.send` to one
    `peer_id` is sent at once when the rate limiter has room; when it has
    to wait, it waits together with the others, and those that wait together
    go out in one `execute` (25 to a request), so a token's 20 requests a
    second carry up to 500 replies (see `SendCoalescer`). `coalesce=False`
    sends every call on its own.

    `session`, when given, is used instead of one the client creates, and is
    left open by `close`. `timer` is the clock the rate limit, the retries and
    the bot's Long Poll wait on (the real one unless a test gives its own).

    Any attribute that is not one of the client's own becomes an API
    namespace; VK's `stats.*` methods, whose namespace `stats` is taken by the
    client's counters, are reached with `call("stats.get", ...)`.
    """

    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        version: str = DEFAULT_VERSION,
        rate_limit: float = 20,
        session: aiohttp.ClientSession | None = None,
        max_retries: int = 4,
        retry_delay: float = 0.5,
        max_retry_delay: float = 8.0,
        max_retry_time: float = 60.0,
        timeout: float = 30.0,
        timer: Timer | None = None,
        coalesce: bool = True,
    ) -> None:
        """Create a client; no connection is made until the first call.

        :raises VkConfigError: if the token is empty or a limit is out of range.
        """
        if not isinstance(token, str) or not token:
            raise VkConfigError("VkApi needs a non-empty access token")
        if timeout <= 0:
            raise VkConfigError(f"VkApi timeout must be positive, got {timeout}")
        self._token = Secret(token)
        self.api_url = api_url.rstrip("/")
        self.version = version
        self.retry = RetryPolicy(max_retries, retry_delay, max_retry_delay, max_retry_time)
        self.timeout = timeout
        self.timer: Timer = timer if timer is not None else MonotonicTimer()
        self._limiter = RateLimiter(rate_limit, timer=self.timer)
        self._session = session
        self._owns_session = session is None
        self._timeout: aiohttp.ClientTimeout | None = None
        self._urls: dict[str, str] = {}
        self._urls_base = self.api_url
        self._closed = False
        self._jitter = random.Random()
        self._requests = 0
        self._calls: Counter[str] = Counter()
        self._retries: Counter[int | str] = Counter()
        self._errors: Counter[int] = Counter()
        self.coalesce = coalesce
        self._sends: SendCoalescer | None = None

    def __repr__(self) -> str:
        return (
            f"<VkApi api_url={self.api_url!r} version={self.version!r} "
            f"rate_limit={self.rate_limit:g}/s>"
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session this client created; safe to call twice."""
        self._closed = True
        if self._sends is not None:
            self._sends.close()
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    def http_session(self) -> aiohttp.ClientSession:
        """Return the client's aiohttp session, creating it on first use.

        Other VK components of the same bot (Long Poll) share it. Must be
        called while an event loop is running.

        :raises VkError: if the client was closed.
        """
        if self._closed:
            raise VkError("this VkApi is closed; create a new one")
        if self._session is None:
            # Imported here, not at the top: aiohttp costs ~150 ms and ~9 MiB, which a
            # program that only names VK types (a console bot's plugins) should not pay.
            import aiohttp

            self._session = aiohttp.ClientSession()
        return self._session

    def _coalescer(self) -> SendCoalescer:
        if self._sends is None:
            self._sends = SendCoalescer(self, self._limiter)
        return self._sends

    @property
    def rate_limit(self) -> float:
        """Requests per second this client lets through; set it to change the pace in use.

        Setting it keeps the limiter's guarantee across the change: requests in
        flight are not disturbed, a lowered rate lets no burst slip through, a
        raised one frees its capacity at once. A cluster worker sets its share of
        the bot's `rate_limit` this way as workers join and leave.

        :raises VkConfigError: if the new rate is not a positive finite number.
        """
        return self._limiter.rate

    @rate_limit.setter
    def rate_limit(self, rate: float) -> None:
        self._limiter.set_rate(rate)

    @property
    def stats(self) -> ApiStats:
        """A snapshot of the client's counters."""
        return ApiStats(
            requests=self._requests,
            calls=dict(self._calls),
            retries=dict(self._retries),
            errors=dict(self._errors),
            limiter=self._limiter.statistics(),
            coalesced=self._sends.coalesced if self._sends is not None else 0,
        )

    def __getattr__(self, name: str) -> _Namespace:
        # Only plain names become API namespaces, so `copy`, `pickle` and
        # friends probing dunders get the AttributeError they expect.
        if name.startswith("_") or not name.isidentifier():
            raise AttributeError(name)
        return _Namespace(self, name)

    async def call(self, method: str, **params: Any) -> Any:
        """Call API `method` and return VK's `response`.

        `None` parameters are left out. `messages.send` gets a random int32
        `random_id` unless one is given.

        :raises VkApiError: if VK answers with an error that is not retried,
            or with error 6, 9 or 10 once the retries are spent.
        :raises VkTransportError: if VK cannot be reached or answers with
            something that is not VK's JSON, once the retries are spent, or
            answers a non-retryable HTTP status (a wrong `api_url`).
        :raises VkError: if the client was closed.
        """
        body = await self._start(method, params)
        return body.get("response")

    async def request(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Call `method` like `call`, returning VK's whole JSON body.

        Needed where VK puts something beside `response` (`execute_errors`).

        :raises VkApiError, VkTransportError, VkError: as `call`.
        """
        return await self._start(method, params)

    def _start(self, method: str, params: Mapping[str, Any]) -> Awaitable[dict[str, Any]]:
        # `request`'s work, returned to await: `call` awaits it without going
        # through `request` (a coroutine less on every reply).
        params = self.prepare(method, params)
        self._calls[method] += 1
        if method == "messages.send" and self.coalesce:
            return self._coalescer().send(params)
        return self._exchange(method, params)

    def _send_text(
        self, peer_id: int, text: str, random_id: int | None = None
    ) -> Awaitable[dict[str, Any]]:
        # `call("messages.send", peer_id=..., message=...)`'s work for the usual reply
        # (`MessageNew.reply` with no options), without the keyword dicts, `prepare`'s
        # copy and a coroutine: every reply of a command comes here (`ReplyApi`'s with
        # its derived `random_id`).
        self._calls["messages.send"] += 1
        if random_id is None:
            random_id = _random_id()
        params = {"peer_id": peer_id, "message": text, "random_id": random_id}
        if self.coalesce:
            return self._coalescer().send(params)
        return self._exchange("messages.send", params)

    def prepare(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Return `params` without `None` values, with defaults VK needs filled in.

        `messages.send` without a `random_id` gets a random positive int32.
        The id is chosen once, before any retry, so that VK drops the copy
        if a retried request had in fact been delivered.
        """
        out = {k: v for k, v in params.items() if v is not None}
        if method == "messages.send" and "random_id" not in out:
            out["random_id"] = _random_id()
        return out

    async def execute(self, calls: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
        """Run (method, params) `calls` through `execute`, 25 per request.

        Returns one result per call, in order: the call's `response`, or a
        `VkApiError` for a call that failed inside `execute` (not retried).

        :raises VkApiError: if an `execute` request fails as a whole (12, 13, ...).
        :raises VkTransportError: if VK cannot be reached.
        :raises VkPayloadError: if VK's answer has not one result per call.
        :raises VkConfigError: if a method name is not `namespace.method`.
        """
        return await execute(self, calls)

    async def send_many(
        self, peer_ids: Sequence[int], message: str, **params: Any
    ) -> list[SendResult]:
        """Send `message` to every peer with `messages.send`, 100 `peer_ids` per request.

        Returns one `SendResult` per peer, in order; VK's errors (for the
        whole request or per recipient: 901/902 make `unreachable` true) are
        reported there, not raised. `params` are more `messages.send`
        parameters (`attachment`, a deterministic `random_id`, ...).

        :raises VkTransportError: if VK cannot be reached (the results of
            earlier requests are lost with it: resumable jobs should pass at
            most 100 peers per call).
        """
        return await send_many(self, peer_ids, message, **params)


class _Namespace:
    """`api.messages`: turns `api.messages.send(...)` into `api.call("messages.send", ...)`."""

    __slots__ = ("_api", "_name")

    def __init__(self, api: VkApi, name: str) -> None:
        self._api = api
        self._name = name

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        if method.startswith("_") or not method.isidentifier():
            raise AttributeError(method)
        full = f"{self._name}.{method}"
        api = self._api

        async def invoke(**params: Any) -> Any:
            return await api.call(full, **params)

        invoke.__name__ = invoke.__qualname__ = full
        return invoke

    def __repr__(self) -> str:
        return f"<VK API namespace {self._name!r}>"
