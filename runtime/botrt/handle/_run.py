"""The state of one flow run: its store, its records, and the run the call chain is in.

The run lives in a context variable, so getters and control functions work
anywhere on the flow's call chain, and concurrent runs never see each other.
How a run walks its graph is `_walk`; how a node steers it, `_control`.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botrt._errors import BotrtError

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.handle._flow import Flow
    from botrt.handle._graph import Graph
    from botrt.handle._inject import Services
    from botrt.handle._node import FlowNode


class FlowContextError(BotrtError):
    """Raised when flow state is asked for outside a flow run.

    `get_event()`, `nextn()`, `botrt.handle.event` and the like only work on
    a flow's call chain: in a node, in a function a node calls, or in a task
    started with a copy of the node's context.
    """


class FlowStore(dict[str, Any]):
    """A dict that lives for one run of a flow: nodes leave values for later nodes.

    Each run has its own; a sub-flow entered with `flow_to` gets a fresh one.
    """

    __slots__ = ()


class RecordStage(enum.Enum):
    """What a `FlowRecord` records."""

    NODE_START = "node started"
    NODE_FINISH = "node finished"
    NODE_EARLY_FINISH = "node ended early"
    DEPENDS_NOT_MATCH = "node skipped: injection did not match"
    NEXTN = "nextn"
    BLOCK = "block"
    STOP = "stop"
    BYPASS = "bypass"
    REWIND = "rewind"
    FLOW_TO = "flow_to"


@dataclass(frozen=True, slots=True)
class FlowRecord:
    """One entry of a run's history: a node entered, skipped or finished, or a control call.

    Attributes:
        stage: what happened.
        flow_name: the flow the run belongs to.
        node_name: the node it happened in (None for a run-level entry).
        note: details: the unmatched parameter, the sub-flow's name, ...
    """

    stage: RecordStage
    flow_name: str
    node_name: str | None
    note: str | None = None


Record = tuple[RecordStage, "FlowNode | None", "str | None"]
"""A history entry as a run keeps it: made into a `FlowRecord` only when asked for."""


class Delivery:
    """The state shared by every flow run of one event.

    Attributes:
        blocked: `block()` was called: lower priorities do not see the event.
        told: the sender was told that handling failed (once per event,
            however many flows fail).
    """

    __slots__ = ("blocked", "told")

    def __init__(self) -> None:
        self.blocked = False
        self.told = False


Failed = Callable[["Flow", "Event", Exception, Delivery], Awaitable[None]]
"""Told about an exception that ended a run: the flow, the event, the exception, the delivery."""


class FlowRun:
    """The state of one flow over one event. Internal: nodes see it through the API.

    Service providers receive it (``provider(run)``): ``run.flow``, ``run.event``.
    """

    __slots__ = (
        "_store",
        "delivery",
        "event",
        "flow",
        "frames",
        "graph",
        "nexted",
        "records",
        "services",
    )

    def __init__(
        self,
        flow: Flow,
        graph: Graph,
        event: Event,
        delivery: Delivery,
        services: Services | None,
    ) -> None:
        self.flow = flow
        self.graph = graph
        self.event = event
        self.delivery = delivery
        self.services = services
        self.records: list[Record] = []
        # The nodes running, innermost last; and the depths in `frames` whose node
        # has called nextn() (None until one does: most runs never do).
        self.frames: list[FlowNode] = []
        self.nexted: set[int] | None = None
        self._store: FlowStore | None = None

    @property
    def store(self) -> FlowStore:
        """This run's store, made on first use."""
        if self._store is None:
            self._store = FlowStore()
        return self._store

    def record(self, stage: RecordStage, note: str | None = None) -> None:
        """Add a history entry for the innermost running node (None between nodes)."""
        self.records.append((stage, self.frames[-1] if self.frames else None, note))

    def record_tuple(self) -> tuple[FlowRecord, ...]:
        """The history so far as public `FlowRecord`s."""
        name = self.flow.name
        return tuple(
            FlowRecord(stage, name, n.name if n is not None else None, note)
            for stage, n, note in self.records
        )

    def mark_nexted(self) -> bool:
        """Note that the innermost node called nextn(); False when it already had."""
        depth = len(self.frames) - 1
        if self.nexted is None:
            self.nexted = set()
        elif depth in self.nexted:
            return False
        self.nexted.add(depth)
        return True

    def unmark_nexted(self, depth: int) -> bool:
        """Forget a nextn() at `depth`; whether there was one (its successors ran)."""
        if self.nexted is None or depth not in self.nexted:
            return False
        self.nexted.discard(depth)
        return True


CURRENT: ContextVar[FlowRun | None] = ContextVar("botrt_flow_run")
"""The run of this call chain; None (or unset) outside one."""


def current_run(what: str) -> FlowRun:
    """The run on this call chain.

    :raises FlowContextError: outside a flow run, naming `what` was asked for.
    """
    run = CURRENT.get(None)
    if run is None:
        raise FlowContextError(
            f"{what} works only inside a flow run (in a node or a function a node calls); "
            "it was used outside one, e.g. at import time or in a task started without "
            "the node's context (use contextvars.copy_context().run)"
        )
    return run


def current_node(what: str) -> tuple[FlowRun, FlowNode]:
    """The run and its innermost running node.

    :raises FlowContextError: outside a running node, naming `what`.
    """
    run = current_run(what)
    if not run.frames:
        raise FlowContextError(f"{what} must be called while a node is running")
    return run, run.frames[-1]


def get_event() -> Event:
    """The event the current flow run is handling.

    :raises FlowContextError: outside a flow run.
    """
    return current_run("get_event()").event


def get_flow_store() -> FlowStore:
    """The current run's `FlowStore`.

    :raises FlowContextError: outside a flow run.
    """
    return current_run("get_flow_store()").store


def get_flow_records() -> tuple[FlowRecord, ...]:
    """The current run's history, oldest first.

    :raises FlowContextError: outside a flow run.
    """
    return current_run("get_flow_records()").record_tuple()
