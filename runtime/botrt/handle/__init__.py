"""Flows: DAGs of handler nodes, their control functions, store, records and injection.

``event``, ``f_store`` and ``f_records`` are dynamic: reading
``botrt.handle.event`` inside a flow run gives the current event; outside a
run it raises `FlowContextError`.
"""

from __future__ import annotations

from typing import Any

from botrt.handle._ask import (
    ConversationCancelled,
    ConversationEnded,
    ConversationTimeout,
    ask,
)
from botrt.handle._binders import (
    CommandArgs,
    CommandSpec,
    on_command,
    on_event,
    on_schedule,
    on_start_match,
    on_state,
    on_text,
)
from botrt.handle._control import block, bypass, flow_to, nextn, rewind, stop
from botrt.handle._conversation import Conversation, ConversationDataError
from botrt.handle._dispatch import Dispatcher
from botrt.handle._flow import Flow
from botrt.handle._graph import FlowCycleError
from botrt.handle._inject import NoMatch, Services
from botrt.handle._middleware import CallNext, FlowMiddleware, Outcome
from botrt.handle._node import FlowNode, node
from botrt.handle._plan import InjectionError
from botrt.handle._run import (
    FlowContextError,
    FlowRecord,
    FlowStore,
    RecordStage,
    get_event,
    get_flow_records,
    get_flow_store,
)
from botrt.handle._schedule import ScheduleError, ScheduleSpec

__all__ = [
    "CommandArgs",
    "CommandSpec",
    "ConversationCancelled",
    "ConversationEnded",
    "ConversationTimeout",
    "Dispatcher",
    "Flow",
    "FlowContextError",
    "FlowCycleError",
    "FlowNode",
    "FlowRecord",
    "FlowStore",
    "InjectionError",
    "NoMatch",
    "RecordStage",
    "ScheduleError",
    "ScheduleSpec",
    "Services",
    "ask",
    "block",
    "bypass",
    "event",
    "f_records",
    "f_store",
    "flow_to",
    "get_event",
    "get_flow_records",
    "get_flow_store",
    "nextn",
    "node",
    "on_command",
    "on_event",
    "on_schedule",
    "on_start_match",
    "on_text",
    "rewind",
    "stop",
]
# Durable conversations (SPEC §8), apart so that other additions merge cleanly.
__all__ += ["Conversation", "ConversationDataError", "on_state"]
# Errors, middleware and floods (SPEC §11).
__all__ += ["CallNext", "FlowMiddleware", "Outcome"]

_DYNAMIC = {
    "event": get_event,
    "f_store": get_flow_store,
    "f_records": get_flow_records,
}


def __getattr__(name: str) -> Any:
    getter = _DYNAMIC.get(name)
    if getter is not None:
        return getter()
    raise AttributeError(f"module 'botrt.handle' has no attribute {name!r}")
