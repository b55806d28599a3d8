"""Walking a flow's graph: each node reached is injected, called, and steers what follows.

`run_flow` is a whole run (the run made current, `stop()` and failures
handled where it started); `walk` is the depth-first loop, which `nextn()`
also uses for a node's successors.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from botrt.handle._run import CURRENT, Delivery, Failed, FlowRun, RecordStage
from botrt.handle._signals import Bypass, Rewind, Stop

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.handle._flow import Flow
    from botrt.handle._inject import Services
    from botrt.handle._node import FlowNode


def run_flow(
    flow: Flow,
    event: Event,
    delivery: Delivery,
    services: Services | None,
    failed: Failed | None = None,
) -> Coroutine[Any, Any, None]:
    """Run `flow` over `event` (already admitted): ``await run_flow(...)``.

    With `failed`, an exception from a node is passed to
    ``failed(flow, event, exc)`` instead of raised.
    """
    graph = flow._graph  # not the `graph` property: this runs for every event
    return _whole_run(FlowRun(flow, graph, event, delivery, services), failed)


async def _whole_run(run: FlowRun, failed: Failed | None) -> None:
    token = CURRENT.set(run)
    try:
        await walk(run, run.graph.rstarts)
    except Stop:
        pass  # stop() ends the run here, wherever it was called
    except Exception as exc:
        if failed is None:
            raise
        failed(run.flow, run.event, exc)
    finally:
        CURRENT.reset(token)


async def walk(run: FlowRun, reversed_roots: Sequence[FlowNode]) -> None:
    """Depth-first over every path from the given roots (passed reversed).

    Each node runs inline in this loop (no coroutine of its own): a node run
    costs its own call and little else. Signals and failures go to `_settle`.
    """
    rsucc = run.graph.rsucc
    records = run.records
    frames = run.frames
    event = run.event
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
            injected = n.inject(run, n)
            if injected is None:
                continue  # the injection did not match: this path ends here
            args = injected
        depth = len(frames)
        frames.append(n)
        try:
            result = n.call(*args)
            if n.is_async:
                result = await result
            records.append(n.finish_record)
        except BaseException as exc:
            result = await _settle(run, n, args, exc)
        finally:
            frames.pop()
        if run.nexted is not None and run.unmark_nexted(depth):
            continue  # it called nextn(): its successors already ran
        if result is not False:
            stack.extend(rsucc[n])


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
