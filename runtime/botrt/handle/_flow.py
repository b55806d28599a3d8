"""`Flow`: a named DAG of nodes with a guard and a priority."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from botrt.handle._admission import Selector, passes, selector
from botrt.handle._graph import Graph, edges_of_paths
from botrt.handle._node import FlowNode, as_node

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.handle._binders import Binding
    from botrt.handle._middleware import FlowMiddleware

Guard = Callable[["Event"], bool | Awaitable[bool | None] | None]
ErrorHandler = Callable[["Event", Exception], Any]
"""A plugin's handler of its flows' failures: ``(event, error)``, sync or async."""

_EMPTY = Graph((), ())

EXTENDER: ContextVar[str | None] = ContextVar("botrt_flow_extender", default=None)
"""Who is building flows right now (the plugin loader sets one name per load).

Nodes and edges a load adds to a flow it did not create are recorded under
that name, so they can be withdrawn when that load is unloaded or refused,
instead of piling up in the other plugin's flow with every reload.
"""


class Flow:
    """A named DAG of `FlowNode`s that handles events.

    ``Flow(name, *paths, priority=0)``: each path is a list of nodes; an
    element that is itself a list fans out and back in
    (``[n4, [n5, n6], n7]`` is n4→n5→n7 and n4→n6→n7); a one-node path adds
    an isolated node. The edges of all paths form one graph, which the
    composable API (`add`, `after`, `before`, `merge`, `fork`) extends later.

    :raises FlowCycleError: if the paths form a cycle (its nodes named in order).
    :raises TypeError: if a path holds something that is not a node.
    """

    def __init__(self, name: str, *paths: Iterable[Any], priority: int = 0) -> None:
        if not isinstance(name, str):
            raise TypeError(f"a flow's first argument is its name (a str), got {name!r}")
        self.name = name
        nodes, edges = edges_of_paths(name, paths)
        self._graph = _EMPTY.extended(name, nodes, edges)
        self._created_by = EXTENDER.get()
        self._added_by: dict[object, str] = {}  # node or edge -> the load that added it
        self._priority = int(priority)
        self._guard: Guard | None = None
        self._binding: Binding | None = None
        self._watchers: list[Callable[[Flow], None]] = []
        self.selector: Selector = selector(None, None)
        """What the flow selects by itself (binder, guard), compiled on change."""
        # Set by the plugin planner: the name of the plugin that owns the flow.
        self.plugin: str | None = None
        self.error_handlers: tuple[ErrorHandler, ...] = ()
        """Called with ``(event, error)`` when a run fails, in order, until one returns
        without raising (set by the plugin planner from ``@planner.on_error``)."""
        self._middleware: tuple[FlowMiddleware, ...] = ()

    # -- structure -----------------------------------------------------------

    @property
    def graph(self) -> Graph:
        """The current snapshot of the DAG (replaced, never mutated, on change)."""
        return self._graph

    @property
    def nodes(self) -> tuple[FlowNode, ...]:
        """Every node, in the order it was added."""
        return self._graph.nodes

    @property
    def edges(self) -> tuple[tuple[FlowNode, FlowNode], ...]:
        """Every edge, in the order it was added."""
        return self._graph.edges

    def _extend(
        self, nodes: Iterable[FlowNode], edges: Iterable[tuple[FlowNode, FlowNode]]
    ) -> None:
        nodes, edges = list(nodes), list(edges)
        before = self._graph
        self._graph = before.extended(self.name, nodes, edges)
        extender = EXTENDER.get()
        if extender is not None and extender != self._created_by:
            known_nodes, known_edges = set(before.nodes), set(before.edges)
            for item in [*nodes, *(n for e in edges for n in e)]:
                if item not in known_nodes:
                    self._added_by.setdefault(item, extender)
            for edge in edges:
                if edge not in known_edges:
                    self._added_by.setdefault(edge, extender)

    def withdraw(self, extender: str) -> None:
        """Remove the nodes and edges that `extender` added to this flow (see `EXTENDER`)."""
        mine = {k for k, v in self._added_by.items() if v == extender}
        if not mine:
            return
        nodes = tuple(n for n in self._graph.nodes if n not in mine)
        kept = set(nodes)
        edges = tuple(
            e for e in self._graph.edges if e not in mine and e[0] in kept and e[1] in kept
        )
        self._graph = Graph(nodes, edges)
        self._added_by = {k: v for k, v in self._added_by.items() if v != extender}

    def add(self, fn: Any) -> FlowNode:
        """Add `fn` (a node, or a function made into one) as an isolated node.

        Returns the node, so it stacks with the other decorators.
        """
        n = as_node(fn)
        self._extend([n], ())
        return n

    def after(self, prev: FlowNode) -> Callable[[Any], FlowNode]:
        """Decorator: add the decorated node as a successor of `prev` (prev → node).

        :raises FlowCycleError: if the new edge closes a cycle.
        """
        return self._linker(lambda n: [(prev, n)])

    def before(self, nxt: FlowNode) -> Callable[[Any], FlowNode]:
        """Decorator: add the decorated node as a predecessor of `nxt` (node → nxt).

        :raises FlowCycleError: if the new edge closes a cycle.
        """
        return self._linker(lambda n: [(n, nxt)])

    def merge(self, *prevs: FlowNode) -> Callable[[Any], FlowNode]:
        """Decorator: add the decorated node after each of `prevs` (p → node for each).

        :raises FlowCycleError: if a new edge closes a cycle; no edge is added.
        """
        return self._linker(lambda n: [(p, n) for p in prevs])

    def fork(self, *nexts: FlowNode) -> Callable[[Any], FlowNode]:
        """Decorator: add the decorated node before each of `nexts` (node → x for each).

        :raises FlowCycleError: if a new edge closes a cycle; no edge is added.
        """
        return self._linker(lambda n: [(n, x) for x in nexts])

    def _linker(
        self, edges_for: Callable[[FlowNode], list[tuple[FlowNode, FlowNode]]]
    ) -> Callable[[Any], FlowNode]:
        def decorate(fn: Any) -> FlowNode:
            n = as_node(fn)
            edges = edges_for(n)
            for a, b in edges:
                for x in (a, b):
                    if not isinstance(x, FlowNode):
                        raise TypeError(f"flow {self.name!r}: {x!r} is not a node")
            self._extend([n], edges)
            return n

        return decorate

    # -- guard and priority ----------------------------------------------------

    def set_guard(self, fn: Guard | None) -> Guard | None:
        """Set (or with None, remove) the guard: a sync or async predicate on the event.

        When it returns a falsy value the flow does not run for that event. It
        narrows what the flow's binder selects (a command still needs its word).
        Returns `fn`, so it works as a decorator.

        :raises TypeError: if `fn` is neither None nor callable.
        """
        if fn is not None and not callable(fn):
            raise TypeError(f"flow {self.name!r}: a guard is a function of the event, got {fn!r}")
        self._guard = fn
        self._changed()
        return fn

    @property
    def guard(self) -> Guard | None:
        """The guard, or None."""
        return self._guard

    async def guard_passes(self, event: Event) -> bool:
        """Whether the flow selects `event`: its binder's events, then its guard."""
        return await passes(self.selector, event)

    @property
    def binding(self) -> Binding | None:
        """Set by the event binders (on_command, ...): what the flow matches by itself."""
        return self._binding

    @binding.setter
    def binding(self, value: Binding | None) -> None:
        self._binding = value
        self._changed()

    @property
    def middleware(self) -> tuple[FlowMiddleware, ...]:
        """The flow's own middleware around each run, outermost first (``@planner.middleware``).

        Set by the plugin planner; it takes effect from the next event.
        """
        return self._middleware

    @middleware.setter
    def middleware(self, value: Iterable[FlowMiddleware]) -> None:
        self._middleware = tuple(value)
        self._changed()

    @property
    def priority(self) -> int:
        """Higher priorities receive an event first."""
        return self._priority

    def update_priority(self, priority: int) -> None:
        """Change the priority; it takes effect from the next event."""
        self._priority = int(priority)
        self._changed()

    def watch(self, callback: Callable[[Flow], None]) -> None:
        """Call `callback(flow)` whenever what routes an event to it changes.

        That is its priority, guard or binding (for dispatchers).
        """
        self._watchers.append(callback)

    def unwatch(self, callback: Callable[[Flow], None]) -> None:
        """Stop calling `callback` (no error when it was not watching)."""
        with contextlib.suppress(ValueError):
            self._watchers.remove(callback)

    def _changed(self) -> None:
        self.selector = selector(self._binding, self._guard)
        for watcher in tuple(self._watchers):
            watcher(self)

    def __repr__(self) -> str:
        return f"<Flow {self.name!r} priority={self._priority} nodes={len(self.nodes)}>"
