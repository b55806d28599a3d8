"""Flow nodes: a sync or async function with its injection plan."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from botrt.handle._inject import Injector, build_call, build_injector
from botrt.handle._plan import EVENT, Param, build_plan, where
from botrt.handle._run import RecordStage


class FlowNode:
    """One step of a flow: a sync or async function run when traversal reaches it.

    The function's parameters are injected by annotation (see
    `botrt.handle`); their plan is worked out here, once.

    Attributes:
        fn: the wrapped function.
        name: the node's name (the function's name unless given).

    :raises TypeError: if `fn` is not callable.
    :raises InjectionError: if a parameter cannot be injected.
    """

    __slots__ = (
        "__weakref__",
        "call",
        "event_types",
        "finish_record",
        "fn",
        "inject",
        "is_async",
        "name",
        "plan",
        "start_record",
    )

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        if isinstance(fn, FlowNode):
            fn = fn.fn
        if not callable(fn):
            raise TypeError(f"FlowNode needs a function, got {fn!r}")
        self.fn = fn
        self.name: str = name if name is not None else getattr(fn, "__name__", repr(fn))
        self.is_async: bool = inspect.iscoroutinefunction(fn)
        self.plan: tuple[Param, ...] = build_plan(fn, self.name)
        # The node's call, worked out once: how its arguments are made for a run,
        # and what is called with them (`fn` itself unless a parameter is keyword-only).
        self.inject: Injector = build_injector(self.plan)
        self.call: Callable[..., Any] = build_call(fn, self.plan)
        # The usual handler, `(event: SomeEvent)`: the event types it takes, so a run
        # passes the event with one isinstance check (None for any other plan).
        only = self.plan[0] if len(self.plan) == 1 else None
        self.event_types: tuple[type, ...] | None = (
            only.types if only is not None and only.kind == EVENT and not only.keyword else None
        )
        # A run's history entries for this node, the same every time: made once.
        self.start_record = (RecordStage.NODE_START, self, None)
        self.finish_record = (RecordStage.NODE_FINISH, self, None)

    @property
    def location(self) -> str:
        """`file:line` of the wrapped function."""
        return where(self.fn)

    def __repr__(self) -> str:
        return f"<FlowNode {self.name!r}>"


def node(fn: Callable[..., Any] | None = None, *, name: str | None = None) -> Any:
    """Turn a sync or async function into a `FlowNode`.

    Use as ``@node`` or ``@node(name="readable name")``.
    """
    if fn is None:
        return lambda f: FlowNode(f, name)
    return FlowNode(fn, name)


def as_node(obj: Any) -> FlowNode:
    """`obj` if it is a node, else a node wrapping the function `obj`."""
    return obj if isinstance(obj, FlowNode) else FlowNode(obj)
