"""Dependency injection by annotation: the services, and each node's injector.

A node's parameters are classified once, when the node is made (`_plan`), and
turned here into the node's injector and call; per event, injection is an
`isinstance` check or a provider call for each parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from botrt.handle._plan import EVENT, RECORDS, STORE, Param
from botrt.handle._run import FlowRecord, FlowRun, FlowStore, RecordStage

if TYPE_CHECKING:
    from botrt.handle._ask import Dialogues
    from botrt.handle._node import FlowNode


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
