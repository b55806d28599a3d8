"""Control functions: how a node, or anything it calls, steers its run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botrt.handle._run import RecordStage, current_node, current_run
from botrt.handle._signals import Bypass, Rewind, Stop
from botrt.handle._walk import run_flow, walk

if TYPE_CHECKING:
    from botrt.handle._flow import Flow


async def nextn() -> None:
    """Run the current node's successors now, and return when they are done.

    Only the first call in a node does anything; afterwards the node's return
    value no longer decides whether successors run (they already have).

    :raises FlowContextError: outside a running node.
    """
    run, n = current_node("nextn()")
    if not run.mark_nexted():
        return
    run.records.append((RecordStage.NEXTN, n, None))
    if await walk(run, run.graph.rsucc[n]):
        raise Stop  # stop() in a successor ends the node that called nextn(), and the run


async def block() -> None:
    """Keep the current event from flows of lower priority; the run goes on.

    :raises FlowContextError: outside a flow run.
    """
    run = current_run("block()")
    run.delivery.blocked = True
    run.record(RecordStage.BLOCK)


async def stop() -> None:
    """End the whole run now: no further node of this flow runs for this event.

    :raises FlowContextError: outside a flow run.
    """
    current_run("stop()").record(RecordStage.STOP)
    raise Stop


async def bypass() -> None:
    """Leave the current node now and go on with its successors.

    :raises FlowContextError: outside a running node.
    """
    run, n = current_node("bypass()")
    run.records.append((RecordStage.BYPASS, n, None))
    raise Bypass


async def rewind() -> None:
    """Run the current node again from its start.

    :raises FlowContextError: outside a running node.
    """
    run, n = current_node("rewind()")
    run.records.append((RecordStage.REWIND, n, None))
    raise Rewind


async def flow_to(flow: Flow) -> None:
    """Run `flow` as a sub-flow over the current event and wait for it.

    The sub-flow has its own store and records; its control calls do not
    affect the caller's run (`block()` still marks the event), and an
    exception in it propagates to the caller. What the sub-flow selects
    (its binder's events, its guard) applies.

    :raises FlowContextError: outside a flow run.
    """
    run = current_run("flow_to()")
    run.record(RecordStage.FLOW_TO, flow.name)
    if await flow.guard_passes(run.event):
        await run_flow(flow, run.event, run.delivery, run.services)
