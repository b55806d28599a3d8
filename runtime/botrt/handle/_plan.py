"""Injection plans: how each parameter of a node gets its value.

A node's parameters are classified here once, when the node is made
(`build_plan`), into `Param` entries; `_inject` turns a plan into the node's
injector and call. `uninjectable` finds the parameters no service can fill.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botrt._errors import BotrtError
from botrt.adapter import Event
from botrt.handle._run import FlowRecord, FlowStore

if TYPE_CHECKING:
    from botrt.handle._node import FlowNode


class InjectionError(BotrtError):
    """Raised when a node's signature cannot be injected at all.

    The message names the function, its file and line, and the parameter.
    """


# Parameter kinds of an injection plan.
EVENT = 0  # isinstance check on the event; data = tuple of types, optional flag
STORE = 1
RECORDS = 2
SERVICE = 3  # data = the annotated type


@dataclass(frozen=True, slots=True)
class Param:
    """How one parameter of a node gets its value."""

    name: str
    kind: int
    types: tuple[type, ...]
    optional: bool
    keyword: bool

    def describe(self) -> str:
        """The annotation as a user wrote it, for messages."""
        names = " | ".join(t.__qualname__ for t in self.types)
        return f"{self.name}: {names}{' | None' if self.optional else ''}"


def where(fn: Callable[..., Any]) -> str:
    """`file:line` of a function's definition, or its repr when unknown."""
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        return repr(fn)
    return f"{code.co_filename}:{code.co_firstlineno}"


def build_plan(fn: Callable[..., Any], node_name: str) -> tuple[Param, ...]:
    """Classify each parameter of `fn` for injection.

    :raises InjectionError: if an annotation cannot be evaluated, or a
        parameter without a default has no annotation or is `*args`/`**kwargs`.
    """
    sig = _signature(fn, node_name)
    plan: list[Param] = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        param = _classify(p, fn, node_name)
        if param is not None:
            plan.append(param)
    return tuple(plan)


def _signature(fn: Callable[..., Any], node_name: str) -> inspect.Signature:
    """`fn`'s signature with its annotations evaluated, in its defining scope if need be."""
    try:
        sig = inspect.signature(fn, eval_str=True)
    except NameError:
        scope = defining_scope(fn)
        try:
            if scope is None:
                raise
            sig = inspect.signature(fn, eval_str=True, locals=scope)
        except NameError as exc:
            raise InjectionError(
                f"node {node_name!r} ({where(fn)}): an annotation cannot be evaluated: {exc}"
            ) from exc
    return sig


def _classify(p: inspect.Parameter, fn: Callable[..., Any], node_name: str) -> Param | None:
    """How parameter `p` of `fn` gets its value; None for one left to its default."""
    keyword = p.kind is p.KEYWORD_ONLY
    ann = p.annotation
    if ann is p.empty:
        if p.default is not p.empty:
            return None
        raise InjectionError(
            f"node {node_name!r} ({where(fn)}): parameter {p.name!r} has no annotation, "
            "so botrt does not know what to pass; annotate it (an Event type, FlowStore, "
            "tuple[FlowRecord, ...] or a runtime service) or give it a default"
        )
    if ann is FlowStore:
        return Param(p.name, STORE, (FlowStore,), False, keyword)
    if typing.get_origin(ann) is tuple and typing.get_args(ann) == (FlowRecord, ...):
        return Param(p.name, RECORDS, (FlowRecord,), False, keyword)
    event_types, optional = _event_types(ann)
    if event_types:
        return Param(p.name, EVENT, event_types, optional, keyword)
    if isinstance(ann, type):
        return Param(p.name, SERVICE, (ann,), False, keyword)
    service = optional_service(ann)
    if service is not None:
        return Param(p.name, SERVICE, (service,), True, keyword)
    raise InjectionError(
        f"node {node_name!r} ({where(fn)}): parameter {p.name!r} is annotated {ann!r}, "
        "which botrt cannot inject; use an Event type or a union of them, FlowStore, "
        "tuple[FlowRecord, ...], a runtime service class, or `Service | None`"
    )


def defining_scope(fn: Callable[..., Any]) -> dict[str, Any] | None:
    """The local names, as they are now, of the running function that defined `fn`.

    With ``from __future__ import annotations`` an annotation is a string; one
    naming something imported inside the enclosing function only resolves
    there (pydantic resolves such names the same way). None when that
    function is not on the stack (or `fn` has no code object).
    """
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        return None
    frame = inspect.currentframe()
    try:
        while frame is not None:
            if code in frame.f_code.co_consts:
                return dict(frame.f_locals)
            frame = frame.f_back
        return None
    finally:
        del frame  # a frame held in a local would keep the whole stack alive


def uninjectable(node: FlowNode, known: Callable[[type], bool]) -> list[tuple[Param, str]]:
    """The service parameters of `node` that no service can ever fill, each with a message.

    A class is a service when `known` says so or botrt itself defines it (its
    own services, such as `VkApi`, exist only on hosts with that platform: a
    node asking for one elsewhere is skipped, as documented). Anything else,
    ``db: dict`` say, would skip the node on every event without a word.
    """
    out = []
    for p in node.plan:
        if p.kind != SERVICE:
            continue
        kind = p.types[0]
        if known(kind) or kind.__module__.partition(".")[0] == "botrt":
            continue
        out.append(
            (
                p,
                f"node {node.name!r}: parameter {p.name!r} is annotated {p.describe()!r}, "
                "which is neither an Event type nor a service this host provides, so the "
                "node would never run; inject an Event type (or a union of them), FlowStore, "
                "tuple[FlowRecord, ...], CommandArgs, or a service: PluginSettings, "
                "PluginStorage, Background, Metrics, VkApi (or a class a package registers "
                "with `host.services.register`)",
            )
        )
    return out


def optional_service(ann: Any) -> type | None:
    """`S` for an annotation ``S | None`` (or ``Optional[S]``) with `S` a class; else None.

    Such a parameter receives None where the service is missing or does not
    apply to the event, instead of the node being skipped.
    """
    if typing.get_origin(ann) not in (typing.Union, types.UnionType):
        return None
    args = typing.get_args(ann)
    rest = [a for a in args if a is not type(None)]
    if len(args) == 2 and len(rest) == 1 and isinstance(rest[0], type):
        return rest[0]
    return None


def _event_types(ann: Any) -> tuple[tuple[type, ...], bool]:
    """The Event types of an annotation (`E`, `E1 | E2`, `E | None`), or ()."""
    if isinstance(ann, type):
        return ((ann,), False) if issubclass(ann, Event) else ((), False)
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        args = typing.get_args(ann)
        optional = type(None) in args
        members = tuple(a for a in args if a is not type(None))
        if members and all(isinstance(a, type) and issubclass(a, Event) for a in members):
            return members, optional
    return (), False
