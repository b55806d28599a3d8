"""Event middleware: functions around the handling of every event, before dispatch.

An event middleware is ``async def mw(event, call_next)``: it may act before,
``await call_next()`` to hand the event on (to the next middleware, then to
the dispatcher), and act after, when every flow has finished with the event.
Not calling it drops the event. It runs in the event's own task, so a context
variable it sets is seen by the flows. The host composes the chain once, at
start (`outer_chain`); with none, the host's path has no call of this module.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botrt.adapter import Event

log = logging.getLogger("botrt.host")

EventMiddleware = Callable[["Event", Callable[[], Awaitable[None]]], Awaitable[Any]]
"""``async def mw(event, call_next)``, around the handling of every event."""


def outer_chain(
    chain: Sequence[EventMiddleware], end: Callable[[Event], Awaitable[None]]
) -> Callable[[Event], Awaitable[None]] | None:
    """`chain` (outermost first) around `end`, or None when there is none.

    An event the chain drops (`end` never reached) counts as handled: its
    ``on_handled`` is called. A middleware that raises is logged; before `end`
    it drops the event, after it the event stays handled.
    """
    if not chain:
        return None
    chain = tuple(chain)
    last = len(chain)

    async def run(event: Event) -> None:
        reached = False

        async def step(i: int) -> None:
            nonlocal reached
            if i == last:
                reached = True
                await end(event)
                return
            await chain[i](event, lambda: step(i + 1))

        try:
            await step(0)
        except Exception:
            log.exception("an event middleware failed on %r", event)
        if not reached and event.on_handled is not None:
            event.on_handled()

    return run
