"""Walking a flow's graph: each node reached is injected, called, and steers what follows.

`run_flow` starts a run with a walk from the start nodes; `nextn()` walks
from a node's successors with the same function.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from botrt.handle._ask import ConversationEnded, dialogues_of
from botrt.handle._run import CURRENT, Delivery, Failed, FlowRun, RecordStage
from botrt.handle._signals import Bypass, Rewind, Stop

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.handle._flow import Flow
    from botrt.handle._inject import Services
    from botrt.handle._node import FlowNode

# Bound once: CPython 3.11 compiles `CURRENT.set(...)` on an imported name as an
# attribute load, which makes a bound method on every call (every event).
_make_current = CURRENT.set
_current = CURRENT.get
# `args` of a node whose only parameter is the event: called with it, no tuple made.
_EVENT: Any = object()


def run_flow(
    flow: Flow,
    event: Event,
    delivery: Delivery,
    services: Services | None,
    failed: Failed | None = None,
) -> Coroutine[Any, Any, bool]:
    """Run `flow` over `event` (already admitted): ``await run_flow(...)``.

    With `failed`, an exception from a node is passed to (and awaited)
    ``failed(flow, event, exc, delivery)`` instead of raised. A plain function returning
    the walk's coroutine, so a run is one coroutine, not two.
    """
    graph = flow._graph  # not the `graph` property: this runs for every event
    return walk(FlowRun(flow, graph, event, delivery, services), graph.rstarts, failed)


async def walk(
    run: FlowRun, reversed_roots: Sequence[FlowNode], failed: Failed | None = None
) -> bool:
    """Depth-first over every path from the given roots (passed reversed), `run` current.

    Returns whether `stop()` ended it; `failed` is as in `run_flow`. Nodes run
    inline (no coroutine each); their signals and failures go to `_settle`.
    """
    # The previous run is put back by value, not with a token: a waiting run keeps
    # no token alive (and a parked run may finish in another task's frame chain).
    previous = _current(None)
    _make_current(run)
    rsucc = run.graph.rsucc
    records = run.records
    frames = run.frames
    event = run.event
    stack = list(reversed_roots)
    try:
        while stack:
            n = stack.pop()
            records.append(n.start_record)
            types = n.event_types
            if types is not None and isinstance(event, types):
                args: Sequence[Any] = _EVENT
            elif not n.plan:
                args = ()
            else:
                injected = n.inject(run, n)
                if injected is None:
                    continue  # the injection did not match: this path ends here
                args = injected
            depth = len(frames)
            frames.append(n)
            try:
                result = n.call(event) if args is _EVENT else n.call(*args)
                if n.is_async:
                    result = await result
                records.append(n.finish_record)
            except BaseException as exc:
                result = await _settle(run, n, (event,) if args is _EVENT else args, exc)
            finally:
                frames.pop()
            if run.nexted is not None and run.unmark_nexted(depth):
                continue  # it called nextn(): its successors already ran
            if result is not False:
                stack.extend(rsucc[n])
    except Stop:
        return True
    except Exception as exc:
        if failed is None:
            raise
        if isinstance(exc, ConversationEnded):
            # An ask's end nobody caught: the user is told; not a failure of the flow.
            await dialogues_of(run, "ask()").tell_ended(exc, event)
        else:
            await failed(run.flow, event, exc, run.delivery)
    finally:
        _make_current(previous)
    return False


async def _settle(run: FlowRun, n: FlowNode, args: Sequence[Any], exc: BaseException) -> Any:
    """What node `n`, which raised `exc`, leaves the walk with; reruns it on rewind()."""
    while isinstance(exc, Rewind):
        # The rerun starts clean: a nextn() of the attempt it replaces does not count.
        run.unmark_nexted(len(run.frames) - 1)
        try:
            result = n.call(*args)
            if n.is_async:
                result = await result
        except BaseException as again:
            exc = again
            continue
        run.records.append(n.finish_record)
        return result
    if isinstance(exc, Bypass):
        run.records.append((RecordStage.NODE_EARLY_FINISH, n, "bypass"))
        return None
    if isinstance(exc, Stop):
        run.records.append((RecordStage.NODE_EARLY_FINISH, n, "stop"))
    elif isinstance(exc, Exception):
        _mark(exc, run.flow.name, n)
    raise exc


def _mark(exc: BaseException, flow_name: str, n: FlowNode) -> None:
    # Innermost node wins: a failure inside nextn() or flow_to() passes through
    # outer nodes on its way up, and the log should name where it happened.
    if getattr(exc, "_botrt_where", None) is None:
        exc._botrt_where = (flow_name, n.name)  # type: ignore[attr-defined]
        exc.add_note(f"in flow {flow_name!r}, node {n.name!r} ({n.location})")


def failure_site(exc: BaseException) -> tuple[str, str] | None:
    """(flow name, node name) where `exc` was raised, if it came from a node."""
    return getattr(exc, "_botrt_where", None)
