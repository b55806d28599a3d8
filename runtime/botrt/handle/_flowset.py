"""The dispatcher's flows, gates and the routes built from them.

`FlowSet` is mixed into `Dispatcher`: it keeps the flows (`add`, `remove`,
`replace`), the reload gates (`hold`, `release`), the prefixes and the flow
middleware, and drops the routes whenever one of them changes; the next event
rebuilds them (`_build_routes`). Nothing here runs per event but that rebuild.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from botrt.handle._flow import Flow
from botrt.handle._routes import Gate, Routes

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.handle._admission import IsAdmin
    from botrt.handle._cooldown import Cooldowns
    from botrt.handle._middleware import FlowMiddleware


class FlowSet:
    """The flows, gates, prefixes and middleware of `Dispatcher` (see the module)."""

    # Set by `Dispatcher.__init__`.
    is_admin: IsAdmin | None
    cooldowns: Cooldowns
    _middleware: tuple[FlowMiddleware, ...]
    _prefixes: tuple[str, ...]
    _flows: dict[Flow, None]
    _routes: Routes | None
    _gates: list[Gate]

    @property
    def flows(self) -> tuple[Flow, ...]:
        """Every flow, in the order it was added."""
        return tuple(self._flows)

    @property
    def middleware(self) -> tuple[FlowMiddleware, ...]:
        """The middleware around every flow's run, outermost first; each flow's own is inside.

        Set by the host from the ``botrt_flow_middleware`` hook; it takes effect
        from the next event (the chains are composed with the routes).
        """
        return self._middleware

    @middleware.setter
    def middleware(self, value: Iterable[FlowMiddleware]) -> None:
        self._middleware = tuple(value)
        self._routes = None

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The command prefixes."""
        return self._prefixes

    @prefixes.setter
    def prefixes(self, value: Sequence[str]) -> None:
        self._prefixes = tuple(value)
        self._routes = None

    def add(self, flow: Flow) -> None:
        """Start delivering events to `flow` (from the next event on)."""
        self.replace((), (flow,))

    def remove(self, flow: Flow) -> None:
        """Stop delivering events to `flow` (no error when it is not here)."""
        self.replace((flow,), ())

    def replace(self, old: Iterable[Flow], new: Iterable[Flow]) -> None:
        """Remove `old` and add `new` in one step: no event sees half of the change.

        :raises TypeError: if something in `new` is not a `Flow`.
        """
        new = tuple(new)
        for f in new:
            if not isinstance(f, Flow):
                raise TypeError(f"a dispatcher takes flows, got {f!r}")
        for f in old:
            if f in self._flows:
                del self._flows[f]
                f.unwatch(self._invalidate)
        for f in new:
            if f not in self._flows:
                self._flows[f] = None
                f.watch(self._invalidate)
        self._routes = None

    @property
    def gates(self) -> tuple[Gate, ...]:
        """The gates closed now (`hold`), oldest first."""
        return tuple(self._gates)

    def hold(self, flows: Iterable[Flow]) -> Gate:
        """Hold back, from the next event on, the events that would reach `flows`.

        For a reload: the plugin's flows stay in place while its versions hand
        over; events that reach them wait at the returned gate until `release`,
        then are delivered afresh. Events already past their lookup run on.
        """
        gate = Gate(flows)
        self._gates.append(gate)
        self._routes = None
        return gate

    def release(self, gate: Gate) -> None:
        """Open `gate`: the events it held are delivered on the routes of now."""
        if gate in self._gates:
            self._gates.remove(gate)
            self._routes = None
        gate.open()

    def _invalidate(self, _flow: Flow) -> None:
        self._routes = None

    def _build_routes(self) -> Routes:
        routes = Routes(
            self._flows,
            self._prefixes,
            self._is_admin,
            self._gates,
            inner=self._middleware,
            cooldowns=self.cooldowns,
        )
        self._routes = routes
        return routes

    async def _is_admin(self, event: Event) -> bool:
        return self.is_admin is not None and await self.is_admin(event)
