"""A flow's DAG: nodes and edges in insertion order, cycle checks, and the
tables traversal reads (start nodes and successor lists), built once per change."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from botrt._errors import BotrtError

if TYPE_CHECKING:
    from botrt.handle._node import FlowNode


class FlowCycleError(BotrtError):
    """Raised by the call that would close a cycle in a flow's graph.

    The graph is left as it was before that call.

    Attributes:
        flow: the flow's name.
        cycle: the names of the nodes on the cycle, in edge order, the first
            repeated at the end (``("n1", "n2", "n1")``).
    """

    def __init__(self, flow: str, cycle: Sequence[str]) -> None:
        self.flow = flow
        self.cycle = tuple(cycle)
        super().__init__(f"flow {flow!r} would have a cycle: {' -> '.join(self.cycle)}")


class Graph:
    """An immutable snapshot of a flow's DAG.

    A change makes a new snapshot, so a run that started on the old one keeps
    a consistent view while the flow is being extended.
    """

    __slots__ = ("edges", "nodes", "rstarts", "rsucc", "starts", "succ")

    def __init__(
        self, nodes: tuple[FlowNode, ...], edges: tuple[tuple[FlowNode, FlowNode], ...]
    ) -> None:
        self.nodes = nodes
        self.edges = edges
        succ: dict[FlowNode, list[FlowNode]] = {n: [] for n in nodes}
        has_pred: set[FlowNode] = set()
        for a, b in edges:
            succ[a].append(b)
            has_pred.add(b)
        self.succ: dict[FlowNode, tuple[FlowNode, ...]] = {n: tuple(s) for n, s in succ.items()}
        self.starts: tuple[FlowNode, ...] = tuple(n for n in nodes if n not in has_pred)
        # Reversed copies, so traversal pushes them on its stack without work per event.
        self.rsucc: dict[FlowNode, tuple[FlowNode, ...]] = {
            n: s[::-1] for n, s in self.succ.items()
        }
        self.rstarts: tuple[FlowNode, ...] = self.starts[::-1]

    def extended(
        self, flow_name: str, nodes: Iterable[FlowNode], edges: Iterable[tuple[FlowNode, FlowNode]]
    ) -> Graph:
        """Return a new graph with `nodes` and `edges` added (duplicates ignored).

        :raises FlowCycleError: if an added edge closes a cycle; nothing is added.
        """
        all_nodes = dict.fromkeys(self.nodes)
        all_edges = dict.fromkeys(self.edges)
        succ: dict[FlowNode, list[FlowNode]] = {}
        for a, b in all_edges:
            succ.setdefault(a, []).append(b)
        for n in nodes:
            all_nodes.setdefault(n)
        for a, b in edges:
            if (a, b) in all_edges:
                continue
            path = _path(succ, b, a)
            if path is not None:
                raise FlowCycleError(flow_name, [a.name, *(n.name for n in path)])
            all_nodes.setdefault(a)
            all_nodes.setdefault(b)
            all_edges[(a, b)] = None
            succ.setdefault(a, []).append(b)
        return Graph(tuple(all_nodes), tuple(all_edges))


def _path(
    succ: dict[FlowNode, list[FlowNode]], src: FlowNode, dst: FlowNode
) -> list[FlowNode] | None:
    """A path src -> ... -> dst following `succ`, or None when there is none."""
    if src is dst:
        return [src]
    parent: dict[FlowNode, FlowNode] = {}
    stack = [src]
    seen = {src}
    while stack:
        n = stack.pop()
        for m in succ.get(n, ()):
            if m in seen:
                continue
            parent[m] = n
            if m is dst:
                path = [m]
                while path[-1] is not src:
                    path.append(parent[path[-1]])
                return path[::-1]
            seen.add(m)
            stack.append(m)
    return None


def edges_of_paths(
    flow_name: str, paths: Sequence[Iterable[object]]
) -> tuple[list[FlowNode], list[tuple[FlowNode, FlowNode]]]:
    """Expand `Flow(...)` paths into nodes (first-seen order) and edges.

    An element that is a list or tuple is a group: every node of the previous
    element links to every node of the group, and every node of the group to
    every node of the next element.

    :raises TypeError: if an element is neither a node nor a group of nodes.
    """
    from botrt.handle._node import FlowNode

    nodes: dict[FlowNode, None] = {}
    edges: list[tuple[FlowNode, FlowNode]] = []
    for p_index, path in enumerate(paths, 1):
        if isinstance(path, (FlowNode, str, bytes)) or not _iterable(path):
            raise TypeError(
                f"flow {flow_name!r}: path {p_index} must be a list of nodes, got {path!r}"
            )
        prev: list[FlowNode] = []
        for e_index, element in enumerate(path, 1):
            group = _group(flow_name, p_index, e_index, element)
            for n in group:
                nodes.setdefault(n)
            edges.extend((a, b) for a in prev for b in group)
            prev = group
    return list(nodes), edges


def _iterable(obj: object) -> bool:
    try:
        iter(obj)  # type: ignore[call-overload]
    except TypeError:
        return False
    return True


def _group(flow_name: str, p_index: int, e_index: int, element: object) -> list[FlowNode]:
    from botrt.handle._node import FlowNode

    where = f"flow {flow_name!r}: path {p_index}, element {e_index}"
    if isinstance(element, FlowNode):
        return [element]
    if isinstance(element, (list, tuple)):
        group = list(element)
        if not group:
            raise TypeError(f"{where} is an empty group")
        for item in group:
            if not isinstance(item, FlowNode):
                raise TypeError(f"{where}: a group holds nodes only, got {item!r}" + _hint(item))
        return group
    raise TypeError(f"{where} is not a node: {element!r}" + _hint(element))


def _hint(obj: object) -> str:
    return "; wrap the function with @node or FlowNode(...)" if callable(obj) else ""
