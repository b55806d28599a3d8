"""One run of a flow over one event: traversal, control functions, store and records.

The run lives in a context variable, so control functions and getters work
anywhere on the flow's call chain, and concurrent runs never see each other.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Coroutine, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botrt._errors import BotrtError
from botrt.handle._inject import EVENT, RECORDS, STORE, NoMatch, Services

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.handle._flow import Flow
    from botrt.handle._graph import Graph
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


class Delivery:
    """The state shared by every flow run of one event: whether `block()` was called."""

    __slots__ = ("blocked",)

    def __init__(self) -> None:
        self.blocked = False


Failed = Callable[["Flow", "Event", Exception], None]
"""Told about an exception that ended a run: the flow, the event, the exception."""


class _Stop(BaseException):
    """Unwinds the whole run (stop())."""


class _Bypass(BaseException):
    """Unwinds the current node (bypass())."""


class _Rewind(BaseException):
    """Restarts the current node (rewind())."""


_CURRENT: ContextVar[FlowRun] = ContextVar("botrt_flow_run")

_S = RecordStage


class FlowRun:
    """The state of one flow over one event. Internal: nodes see it through the API."""

    __slots__ = (
        "_store",
        "delivery",
        "event",
        "failed",
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
        failed: Failed | None = None,
    ) -> None:
        self.flow = flow
        self.graph = graph
        self.event = event
        self.delivery = delivery
        self.services = services
        self.failed = failed
        self.records: list[tuple[RecordStage, FlowNode | None, str | None]] = []
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

    def record_tuple(self) -> tuple[FlowRecord, ...]:
        """The history so far as public `FlowRecord`s."""
        name = self.flow.name
        return tuple(
            FlowRecord(stage, name, n.name if n is not None else None, note)
            for stage, n, note in self.records
        )

    async def walk(self, reversed_roots: Sequence[FlowNode], outer: bool = False) -> None:
        """Depth-first over every path from the given roots (passed reversed).

        With `outer`, this is the whole run: the run is made current for its
        duration, and `stop()` ends it here. Each node runs inline in this loop
        (no coroutine of its own): a node run costs its own call and little else.
        """
        token = _CURRENT.set(self) if outer else None
        try:
            rsucc = self.graph.rsucc
            records = self.records
            frames = self.frames
            event = self.event
            stack = list(reversed_roots)
            while stack:
                n = stack.pop()
                records.append(n.start_record)
                types = n.event_types
                if types is not None and isinstance(event, types):
                    args: Sequence[Any] = (event,)
                elif not n.plan:
                    args = ()
                else:
                    injected = self._inject(n)
                    if injected is None:
                        continue
                    args = injected
                depth = len(frames)
                frames.append(n)
                result: Any = None
                try:
                    while True:
                        try:
                            if n.positional:
                                result = n.fn(*args)
                            else:
                                result = n.fn(
                                    **dict(zip((p.name for p in n.plan), args, strict=True))
                                )
                            if n.is_async:
                                result = await result
                            break
                        except _Rewind:
                            # The rerun starts clean: its own nextn() runs the successors.
                            if self.nexted is not None:
                                self.nexted.discard(depth)
                            continue
                except _Bypass:
                    records.append((_S.NODE_EARLY_FINISH, n, "bypass"))
                    result = None
                except _Stop:
                    records.append((_S.NODE_EARLY_FINISH, n, "stop"))
                    raise
                except Exception as exc:
                    _mark(exc, self.flow.name, n)
                    raise
                else:
                    records.append(n.finish_record)
                finally:
                    frames.pop()
                    if self.nexted is not None and depth in self.nexted:
                        self.nexted.discard(depth)
                        result = False  # it called nextn(): its successors already ran
                if result is not False:
                    stack.extend(rsucc[n])
        except _Stop:
            if not outer:
                raise  # unwinds to the run's outermost walk
        except Exception as exc:
            if not outer or self.failed is None:
                raise
            self.failed(self.flow, self.event, exc)
        finally:
            if token is not None:
                _CURRENT.reset(token)

    def _inject(self, n: FlowNode) -> list[Any] | None:
        values: list[Any] = []
        for p in n.plan:
            kind = p.kind
            if kind == EVENT:
                if isinstance(self.event, p.types):
                    values.append(self.event)
                elif p.optional:
                    values.append(None)
                else:
                    self.records.append((_S.DEPENDS_NOT_MATCH, n, p.describe()))
                    return None
            elif kind == STORE:
                values.append(self.store)
            elif kind == RECORDS:
                values.append(self.record_tuple())
            else:
                provider = self.services.find(p.types[0]) if self.services is not None else None
                if provider is None:
                    if p.optional:  # `Service | None`: None instead of skipping the node
                        values.append(None)
                        continue
                    self.records.append((_S.DEPENDS_NOT_MATCH, n, f"{p.describe()} (no service)"))
                    return None
                try:
                    values.append(provider(self))
                except NoMatch:
                    if p.optional:
                        values.append(None)
                        continue
                    self.records.append((_S.DEPENDS_NOT_MATCH, n, p.describe()))
                    return None
        return values


def _mark(exc: BaseException, flow_name: str, n: FlowNode) -> None:
    # Innermost node wins: a failure inside nextn() or flow_to() passes through
    # outer nodes on its way up, and the log should name where it happened.
    if getattr(exc, "_botrt_where", None) is None:
        exc._botrt_where = (flow_name, n.name)  # type: ignore[attr-defined]
        exc.add_note(f"in flow {flow_name!r}, node {n.name!r} ({n.location})")


def failure_site(exc: BaseException) -> tuple[str, str] | None:
    """(flow name, node name) where `exc` was raised, if it came from a node."""
    return getattr(exc, "_botrt_where", None)


def run_flow(
    flow: Flow,
    event: Event,
    delivery: Delivery,
    services: Services | None,
    failed: Failed | None = None,
) -> Coroutine[Any, Any, None]:
    """Run `flow` over `event` (its guard already passed): ``await run_flow(...)``.

    A plain function returning the run's coroutine, so a run is one coroutine
    (the walk), not two. With `failed`, an exception from a node is passed to
    ``failed(flow, event, exc)`` instead of raised.
    """
    graph = flow._graph  # not the `graph` property: this runs for every event
    return FlowRun(flow, graph, event, delivery, services, failed).walk(graph.rstarts, True)


def current_run(what: str) -> FlowRun:
    """The run on this call chain.

    :raises FlowContextError: outside a flow run, naming `what` was asked for.
    """
    run = _CURRENT.get(None)
    if run is None:
        raise FlowContextError(
            f"{what} works only inside a flow run (in a node or a function a node calls); "
            "it was used outside one, e.g. at import time or in a task started without "
            "the node's context (use contextvars.copy_context().run)"
        )
    return run


def _frame(what: str) -> tuple[FlowRun, FlowNode]:
    """The run and its innermost running node."""
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


async def nextn() -> None:
    """Run the current node's successors now, and return when they are done.

    Only the first call in a node does anything; afterwards the node's return
    value no longer decides whether successors run (they already have).

    :raises FlowContextError: outside a running node.
    """
    run, n = _frame("nextn()")
    depth = len(run.frames) - 1
    if run.nexted is None:
        run.nexted = set()
    elif depth in run.nexted:
        return
    run.nexted.add(depth)
    run.records.append((_S.NEXTN, n, None))
    await run.walk(run.graph.rsucc[n])


async def block() -> None:
    """Keep the current event from flows of lower priority; the run goes on.

    :raises FlowContextError: outside a flow run.
    """
    run = current_run("block()")
    run.delivery.blocked = True
    run.records.append((_S.BLOCK, run.frames[-1] if run.frames else None, None))


async def stop() -> None:
    """End the whole run now: no further node of this flow runs for this event.

    :raises FlowContextError: outside a flow run.
    """
    run = current_run("stop()")
    run.records.append((_S.STOP, run.frames[-1] if run.frames else None, None))
    raise _Stop


async def bypass() -> None:
    """Leave the current node now and go on with its successors.

    :raises FlowContextError: outside a running node.
    """
    run, n = _frame("bypass()")
    run.records.append((_S.BYPASS, n, None))
    raise _Bypass


async def rewind() -> None:
    """Run the current node again from its start.

    :raises FlowContextError: outside a running node.
    """
    run, n = _frame("rewind()")
    run.records.append((_S.REWIND, n, None))
    raise _Rewind


async def flow_to(flow: Flow) -> None:
    """Run `flow` as a sub-flow over the current event and wait for it.

    The sub-flow has its own store and records; its control calls do not
    affect the caller's run (`block()` still marks the event), and an
    exception in it propagates to the caller.

    :raises FlowContextError: outside a flow run.
    """
    run = current_run("flow_to()")
    run.records.append((_S.FLOW_TO, run.frames[-1] if run.frames else None, flow.name))
    if await flow.guard_passes(run.event):
        await run_flow(flow, run.event, run.delivery, run.services)
