"""`SendCoalescer`: replies that wait for the rate limiter together go out in one `execute`."""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botrt.protocols.vk._batch import EXECUTE_MAX_CALLS, build_execute_code, execute_results
from botrt.protocols.vk._errors import VkApiError, VkError
from botrt.protocols.vk._retry import RETRYABLE_CODES

if TYPE_CHECKING:
    from botrt.protocols.vk._api import VkApi
    from botrt.protocols.vk._ratelimit import RateLimiter

_SEND = "messages.send"


@dataclass(eq=False, slots=True)
class _Waiting:
    """One `messages.send` waiting for a request to go out in."""

    peer: Hashable
    params: dict[str, Any]
    # Resolved with the call's `response`, or a `VkApiError` VK reported for
    # it inside `execute` (not retried yet); set to an exception when the
    # request as a whole failed (retried as `VkApi.request` retries).
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class SendCoalescer:
    """Sends one `VkApi`'s `messages.send` calls, many in one `execute` when they must wait.

    A call to one conversation goes out at once, on its own, when the rate
    limiter has a slot free and no call waits ahead of it: a lone reply, or a
    few in a row, pay nothing. Otherwise it joins a queue, and the queue's
    first calls (up to 25) go out in one `execute` as soon as a slot is free:
    20 requests a second then carry up to 500 replies instead of 20.

    Once half the slots are spent, requests (single or coalesced) go out at
    most one per 1/`rate_limit` second, each carrying what came meanwhile:
    spending every free slot at once would spend the limit on requests of one
    or two replies as replies trickle in, and leave the rest waiting a second.

    - Order: calls to one conversation reach VK in the order they were made:
      they keep their order in the queue, `execute` runs its calls in order,
      and no call goes out while an earlier one to its conversation is still
      in flight in another request.
    - Each call keeps its parameters (its `random_id` too) and gets its own
      answer: its message id, or its own `VkApiError` (VK reports a failed
      call inside `execute` at its position, as `VkApi.execute` reads it).
      Errors 6, 9 and 10 of one call are retried as `VkApi.request` retries
      them; a failure of a whole request reaches each of its calls.
    - Calls without a single `peer_id` (`peer_ids`, `user_id`) go out on
      their own, as before.

    Made by `VkApi` on first use; one per client, since the limit is per token.

    Attributes:
        coalesced: calls that went out inside an `execute` with others.
    """

    def __init__(self, api: VkApi, limiter: RateLimiter) -> None:
        """Send through `api`'s requests, in the slots of its `limiter`."""
        self._api = api
        self._limiter = limiter
        self._queue: deque[_Waiting] = deque()
        # Conversations with calls in flight, and how many (a plain dict: `Counter`'s
        # deletion is Python code, paid on every reply).
        self._busy: dict[Hashable, int] = {}
        self._changed: asyncio.Event | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._requests: set[asyncio.Task[None]] = set()
        # Requests go out at most one per the limiter's `spacing` (it follows a changed
        # rate) while replies keep coming, each carrying what came meanwhile.
        self._last = -math.inf
        self.coalesced = 0

    async def send(self, params: dict[str, Any]) -> dict[str, Any]:
        """Send one prepared `messages.send` call; return VK's body for it (`{"response": id}`).

        :raises VkApiError, VkTransportError, VkError: as `VkApi.request`.
        """
        api = self._api
        peer = params.get("peer_id")
        if peer is None or "peer_ids" in params:
            return await api._exchange(_SEND, params)
        timer = api.timer
        busy = self._busy
        if not self._queue and peer not in busy:
            now = timer.now()
            # `_scarce`'s cheaper test first, inline (the usual case: a reply now and then).
            if (now >= self._last + self._limiter.spacing or not self._scarce(now)) and (
                self._limiter.try_acquire(now)
            ):
                self._last = now
                busy[peer] = 1  # not busy before: see the test above
                try:
                    return await api._exchange(_SEND, params, held=True, started=now)
                finally:
                    # `_done(peer)`, inline: no other request counts this peer meanwhile
                    # (`_take` skips busy peers), so its count is back to 0.
                    del busy[peer]
                    if self._changed is not None:
                        self._changed.set()
        started = timer.now()
        attempt = 0
        while True:
            attempt += 1
            result = await self._queued(peer, params)
            if not isinstance(result, VkApiError):
                return {"response": result}
            slowdown = RETRYABLE_CODES.get(result.code)
            delay = api.retry.backoff(attempt, slowdown or 1.0, api._jitter)
            if slowdown is None or not api.retry.allows(attempt, timer.now() - started, delay):
                api._errors[result.code] += 1
                raise result
            api._retries[result.code] += 1
            await timer.sleep(delay)

    def close(self) -> None:
        """Stop sending: waiting calls fail with `VkError`, requests in flight are cancelled."""
        for task in (self._flusher, *self._requests):
            if task is not None:
                task.cancel()
        while self._queue:
            waiting = self._queue.popleft()
            if not waiting.future.done():
                waiting.future.set_exception(VkError("this VkApi was closed before the send"))

    async def _queued(self, peer: Hashable, params: dict[str, Any]) -> Any:
        waiting = _Waiting(peer, params)
        self._queue.append(waiting)
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        else:
            self._wake()
        return await waiting.future

    async def _flush(self) -> None:
        # One per coalescer while calls wait: takes each slot as it comes free
        # and fills a request with what waits then.
        try:
            while True:
                # Calls whose senders were cancelled leave the queue here.
                self._queue = deque(w for w in self._queue if not w.future.done())
                if not self._queue:
                    return
                if not self._sendable():
                    self._changed = changed = asyncio.Event()
                    await changed.wait()
                    continue
                timer = self._api.timer
                if self._scarce():
                    await timer.sleep(self._last + self._limiter.spacing - timer.now())
                await self._limiter.acquire()
                self._last = timer.now()
                batch = self._take()
                if not batch:  # every call it was for was cancelled meanwhile
                    self._limiter.release(used=False)
                    continue
                busy = self._busy
                for waiting in batch:
                    busy[waiting.peer] = busy.get(waiting.peer, 0) + 1
                task = asyncio.get_running_loop().create_task(self._request(batch))
                self._requests.add(task)
                task.add_done_callback(self._requests.discard)
        finally:
            self._flusher = None

    def _scarce(self, now: float | None = None) -> bool:
        # Half the slots or more are spent and a request went out within the
        # spacing: the next one waits for the spacing to pass. `now`: the
        # timer's time, when the caller has just read it.
        if now is None:
            now = self._api.timer.now()
        if now >= self._last + self._limiter.spacing:  # the cheaper test first
            return False
        limiter = self._limiter
        return limiter.free(now) * 2 <= limiter.burst

    def _sendable(self) -> bool:
        busy = self._busy
        return any(w.peer not in busy for w in self._queue)

    def _take(self) -> list[_Waiting]:
        batch: list[_Waiting] = []
        kept: deque[_Waiting] = deque()
        busy = self._busy
        for waiting in self._queue:
            if waiting.future.done():
                continue  # its sender was cancelled
            if len(batch) < EXECUTE_MAX_CALLS and waiting.peer not in busy:
                batch.append(waiting)
            else:
                kept.append(waiting)
        self._queue = kept
        return batch

    async def _request(self, batch: list[_Waiting]) -> None:
        # Sent in the slot `_flush` took for it.
        api = self._api
        try:
            if len(batch) == 1:
                body = await api._exchange(_SEND, batch[0].params, held=True)
                results = [body.get("response")]
            else:
                calls = [(_SEND, w.params) for w in batch]
                body = await api._exchange(
                    "execute", {"code": build_execute_code(calls)}, held=True
                )
                results = execute_results(calls, body)
                self.coalesced += len(batch)
        except VkApiError as err:
            for waiting in batch:
                # The error of the whole request, told as each call's own.
                _settle(waiting, exception=_as_send_error(err, waiting.params))
        except Exception as exc:
            for waiting in batch:
                _settle(waiting, exception=exc)
        else:
            for waiting, result in zip(batch, results, strict=True):
                _settle(waiting, result=result)
        finally:
            for waiting in batch:
                self._done(waiting.peer)

    def _done(self, peer: Hashable) -> None:
        busy = self._busy
        left = busy[peer] - 1
        if left > 0:
            busy[peer] = left
        else:
            del busy[peer]
            self._wake()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()


def _settle(
    waiting: _Waiting, *, result: Any = None, exception: BaseException | None = None
) -> None:
    if waiting.future.done():  # its sender was cancelled meanwhile
        return
    if exception is not None:
        waiting.future.set_exception(exception)
    else:
        waiting.future.set_result(result)


def _as_send_error(err: VkApiError, params: dict[str, Any]) -> VkApiError:
    if err.method == _SEND:
        return err
    return VkApiError(err.code, err.message, _SEND, params=params, raw=err.raw)
