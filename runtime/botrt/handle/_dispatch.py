"""Delivering an event to a set of flows, by priority tier."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import anyio

from botrt.handle._flow import Flow
from botrt.handle._run import Delivery, failure_site, run_flow

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.handle._inject import Services

log = logging.getLogger("botrt.dispatch")


class Dispatcher:
    """Delivers each event to its flows: higher priority first, one tier at a time.

    Flows of one tier run concurrently; when any of them calls `block()`,
    lower tiers do not see the event. A flow that raises is logged with its
    flow and node name; the other flows and later events carry on.

    The tier table is built when the set of flows or a priority changes,
    never per event; an event keeps the table it started with, so a swap of
    flows (a reload) never splits one event across two versions.
    """

    def __init__(self, flows: Iterable[Flow] = (), services: Services | None = None) -> None:
        self.services = services
        self._flows: dict[Flow, None] = {}
        self._tiers: tuple[tuple[Flow, ...], ...] | None = None
        self.replace((), flows)

    @property
    def flows(self) -> tuple[Flow, ...]:
        """Every flow, in the order it was added."""
        return tuple(self._flows)

    def add(self, flow: Flow) -> None:
        """Start delivering events to `flow` (from the next event on)."""
        self.replace((), (flow,))

    def remove(self, flow: Flow) -> None:
        """Stop delivering events to `flow` (no error when it is not here)."""
        self.replace((flow,), ())

    def replace(self, old: Iterable[Flow], new: Iterable[Flow]) -> None:
        """Remove `old` and add `new` in one step: no event sees half of the change."""
        for f in old:
            if f in self._flows:
                del self._flows[f]
                f.unwatch_priority(self._invalidate)
        for f in new:
            if not isinstance(f, Flow):
                raise TypeError(f"a dispatcher takes flows, got {f!r}")
            if f not in self._flows:
                self._flows[f] = None
                f.watch_priority(self._invalidate)
        self._tiers = None

    def _invalidate(self, _flow: Flow) -> None:
        self._tiers = None

    def _build_tiers(self) -> tuple[tuple[Flow, ...], ...]:
        by_priority: dict[int, list[Flow]] = {}
        for f in self._flows:
            by_priority.setdefault(f.priority, []).append(f)
        tiers = tuple(tuple(by_priority[p]) for p in sorted(by_priority, reverse=True))
        self._tiers = tiers
        return tiers

    async def dispatch(self, event: Event) -> None:
        """Deliver `event` and return when every flow that took it has finished."""
        tiers = self._tiers or self._build_tiers()
        delivery = Delivery()
        for tier in tiers:
            runnable: list[Flow] = []
            for f in tier:
                guard = f._guard
                if guard is None or f._guard_is_async:
                    runnable.append(f)
                    continue
                try:
                    ok = guard(event)
                except Exception:
                    log.exception("flow %r: guard failed on %r", f.name, event)
                    continue
                if ok:
                    runnable.append(f)
            if len(runnable) == 1:
                await self._run(runnable[0], event, delivery)
            elif runnable:
                async with anyio.create_task_group() as tg:
                    for f in runnable:
                        tg.start_soon(self._run, f, event, delivery)
            if delivery.blocked:
                break

    async def _run(self, flow: Flow, event: Event, delivery: Delivery) -> None:
        try:
            if flow._guard_is_async and not await flow.guard_passes(event):
                return
            await run_flow(flow, event, delivery, self.services)
        except Exception as exc:
            flow_name, node_name = failure_site(exc) or (flow.name, "(guard)")
            log.error(
                "flow %r, node %r failed on %r: %s: %s",
                flow_name,
                node_name,
                event,
                type(exc).__name__,
                exc,
                exc_info=exc,
            )
