"""Flow middleware: functions around each run of a flow, which see how it ended.

A flow middleware is ``async def mw(event, flow, call_next)``: it may act
before, ``await call_next()`` to run the flow (and the middleware inside it),
which returns the run's `Outcome`, and act after; a middleware that does not
call it skips the flow for that event. The chain of a flow is the
dispatcher's own (the host's, from packages) outermost, then its plugin's
(``@planner.middleware``). It is composed when the routes are built, not per
event; a flow with no middleware runs with no call of this module at all.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from botrt.handle._walk import run_flow

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.handle._flow import Flow
    from botrt.handle._inject import Services
    from botrt.handle._run import Delivery, Failed


class Outcome(enum.StrEnum):
    """How a flow run ended, as a flow middleware's ``call_next()`` returns it.

    Compares equal to its value (``outcome == "error"``).
    """

    OK = "ok"
    """Every path ran to its end (or ended by a node returning False, or `bypass`)."""
    ERROR = "error"
    """A node (or the flow's guard) raised; the error was handled as any failure."""
    BLOCKED = "blocked"
    """The run (or a flow beside it) called `block()`: lower priorities do not see the event."""
    STOPPED = "stopped"
    """A node called `stop()`."""


CallNext = Callable[[], Awaitable[Outcome]]
"""Runs the rest of the chain and the flow; returns how the run ended."""

FlowMiddleware = Callable[["Event", "Flow", CallNext], Awaitable[Any]]
"""``async def mw(event, flow, call_next)``, around each run of a flow."""

Runner = Callable[
    ["Flow", "Event", "Delivery", "Services | None", "Failed | None"],
    Coroutine[Any, Any, Any],
]
"""How a dispatcher runs an admitted flow: `run_flow`, or it inside a middleware chain."""


def runner(chain: Sequence[FlowMiddleware]) -> Runner:
    """The runner of a flow with the middleware `chain`, outermost first (`run_flow` for none)."""
    if not chain:
        return run_flow
    chain = tuple(chain)
    last = len(chain)

    async def run(
        flow: Flow,
        event: Event,
        delivery: Delivery,
        services: Services | None,
        failed: Failed | None,
    ) -> bool:
        errored = False
        stopped = False

        async def failed_here(f: Flow, e: Event, exc: Exception, d: Delivery) -> None:
            nonlocal errored
            errored = True
            if failed is None:
                raise exc
            await failed(f, e, exc, d)

        async def step(i: int) -> Outcome:
            nonlocal stopped
            if i == last:
                stopped = await run_flow(flow, event, delivery, services, failed_here)
            else:
                await chain[i](event, flow, lambda: step(i + 1))
            return _settled(errored, stopped, delivery)

        try:
            await step(0)
        except Exception as exc:  # from a middleware: the flow's failure as any other
            if failed is None:
                raise
            if getattr(exc, "_botrt_where", None) is None:
                exc._botrt_where = (flow.name, "(middleware)")  # type: ignore[attr-defined]
            await failed(flow, event, exc, delivery)
        return stopped

    return run


def _settled(errored: bool, stopped: bool, delivery: Delivery) -> Outcome:
    if errored:
        return Outcome.ERROR
    if stopped:
        return Outcome.STOPPED
    return Outcome.BLOCKED if delivery.blocked else Outcome.OK
