"""Dependency injection by annotation.

A node's parameters are classified once, when the node is made, and turned
into the node's injector and call; per event, injection is an `isinstance`
check or a provider call for each parameter.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botrt._errors import BotrtError
from botrt.adapter import Event
from botrt.handle._run import FlowRecord, FlowRun, FlowStore, RecordStage

if TYPE_CHECKING:
    from botrt.handle._ask import Dialogues
    from botrt.handle._node import FlowNode


class InjectionError(BotrtError):
    """Raised when a node's signature cannot be injected at all.

    The message names the function, its file and line, and the parameter.
    """


# Outside botrt's tree: a provider's "skip this node", caught by the run, never an error
# a caller sees.
class NoMatch(Exception):
    """Raised by a service provider whose service does not apply to this event.

    The node that asked for it is skipped, like a node whose event annotation
    does not match.
    """


Provider = Callable[["FlowRun"], Any]
"""Makes a service's value for one flow run; may raise `NoMatch`."""


class Services(Mapping[type, Provider]):
    """The runtime's injectable services: a type mapped to its provider.

    The host fills one per bot runtime (plugin settings, storage, platform
    API); a node parameter annotated with one of these types receives what
    the provider returns for the current run.
    """

    __slots__ = ("_by_type", "_resolved", "dialogues")

    def __init__(self, providers: Mapping[type, Provider] | None = None) -> None:
        self._by_type: dict[type, Provider] = dict(providers or {})
        self._resolved: dict[type, Provider | None] = {}
        # The dispatcher's waiting asks, for `ask()`: not injectable, so not a provider.
        self.dialogues: Dialogues | None = None

    def register(self, kind: type, provider: Provider) -> None:
        """Make parameters annotated `kind` receive `provider(run)`."""
        self._by_type[kind] = provider
        self._resolved.clear()

    def unregister(self, kind: type) -> None:
        """Forget the provider of `kind` (no error when there is none)."""
        self._by_type.pop(kind, None)
        self._resolved.clear()

    def find(self, kind: type) -> Provider | None:
        """The provider for `kind`: its own, else one registered for a subclass."""
        try:
            return self._resolved[kind]
        except KeyError:
            pass
        found = self._by_type.get(kind)
        if found is None:
            for registered, provider in self._by_type.items():
                if isinstance(registered, type) and issubclass(registered, kind):
                    found = provider
                    break
        self._resolved[kind] = found
        return found

    def __getitem__(self, kind: type) -> Provider:
        return self._by_type[kind]

    def __iter__(self) -> Iterator[type]:
        return iter(self._by_type)

    def __len__(self) -> int:
        return len(self._by_type)


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
    plan: list[Param] = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        keyword = p.kind is p.KEYWORD_ONLY
        ann = p.annotation
        if ann is p.empty:
            if p.default is not p.empty:
                continue
            raise InjectionError(
                f"node {node_name!r} ({where(fn)}): parameter {p.name!r} has no annotation, "
                "so botrt does not know what to pass; annotate it (an Event type, FlowStore, "
                "tuple[FlowRecord, ...] or a runtime service) or give it a default"
            )
        if ann is FlowStore:
            plan.append(Param(p.name, STORE, (FlowStore,), False, keyword))
            continue
        if typing.get_origin(ann) is tuple and typing.get_args(ann) == (FlowRecord, ...):
            plan.append(Param(p.name, RECORDS, (FlowRecord,), False, keyword))
            continue
        event_types, optional = _event_types(ann)
        if event_types:
            plan.append(Param(p.name, EVENT, event_types, optional, keyword))
            continue
        if isinstance(ann, type):
            plan.append(Param(p.name, SERVICE, (ann,), False, keyword))
            continue
        service = optional_service(ann)
        if service is not None:
            plan.append(Param(p.name, SERVICE, (service,), True, keyword))
            continue
        raise InjectionError(
            f"node {node_name!r} ({where(fn)}): parameter {p.name!r} is annotated {ann!r}, "
            "which botrt cannot inject; use an Event type or a union of them, FlowStore, "
            "tuple[FlowRecord, ...], a runtime service class, or `Service | None`"
        )
    return tuple(plan)


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


Injector = Callable[[FlowRun, "FlowNode"], "list[Any] | None"]
"""A node's arguments for a run, or None (recorded) when a parameter does not match."""


class _Miss:
    """What a parameter's getter returns when it does not match: the record's note."""

    __slots__ = ("note",)

    def __init__(self, note: str) -> None:
        self.note = note


def build_injector(plan: tuple[Param, ...]) -> Injector:
    """The function that fills a node's parameters for a run, in plan order.

    It stops at the first parameter that does not match (later providers are
    not called) and records why the node was skipped.
    """
    getters = tuple(_getter(p) for p in plan)

    def inject(run: FlowRun, n: FlowNode) -> list[Any] | None:
        values: list[Any] = []
        for get in getters:
            value = get(run)
            if value.__class__ is _Miss:
                run.records.append((RecordStage.DEPENDS_NOT_MATCH, n, value.note))
                return None
            values.append(value)
        return values

    return inject


def build_call(fn: Callable[..., Any], plan: tuple[Param, ...]) -> Callable[..., Any]:
    """What the walk calls with the injected values in plan order: `fn` itself when it can."""
    if not any(p.keyword for p in plan):
        return fn
    names = tuple(p.name for p in plan)

    def call(*values: Any) -> Any:
        return fn(**dict(zip(names, values, strict=True)))

    return call


def _getter(p: Param) -> Callable[[FlowRun], Any]:
    if p.kind == STORE:
        return _store
    if p.kind == RECORDS:
        return _records
    if p.kind == EVENT:
        return _event_getter(p)
    return _service_getter(p)


def _store(run: FlowRun) -> FlowStore:
    return run.store


def _records(run: FlowRun) -> tuple[FlowRecord, ...]:
    return run.record_tuple()


def _event_getter(p: Param) -> Callable[[FlowRun], Any]:
    types = p.types
    miss = None if p.optional else _Miss(p.describe())  # `X | None` receives None

    def get(run: FlowRun) -> Any:
        event = run.event
        return event if isinstance(event, types) else miss

    return get


def _service_getter(p: Param) -> Callable[[FlowRun], Any]:
    kind = p.types[0]
    # `Service | None` receives None where the service is missing or does not apply.
    no_match = None if p.optional else _Miss(p.describe())
    no_service = None if p.optional else _Miss(f"{p.describe()} (no service)")

    def get(run: FlowRun) -> Any:
        provider = run.services.find(kind) if run.services is not None else None
        if provider is None:
            return no_service
        try:
            return provider(run)
        except NoMatch:
            return no_match

    return get
