"""Dependency injection by annotation, resolved once when the node is made."""

from __future__ import annotations

import inspect

import pytest
from flowkit import text, tracer

from botrt.adapter import Event, TextEvent
from botrt.handle import (
    Flow,
    FlowRecord,
    FlowStore,
    InjectionError,
    NoMatch,
    RecordStage,
    node,
)
from botrt.handle._run import FlowRun
from botrt.testing import MemoryEvent, TestHost

pytestmark = pytest.mark.anyio


class JoinEvent(Event):
    def __init__(self) -> None:
        super().__init__(platform="memory", bot="memory")


class OtherText(TextEvent):
    pass


async def test_a_mismatched_event_skips_the_node_and_its_successors() -> None:
    trace: list[str] = []

    @node
    async def on_text(e: TextEvent) -> None:
        trace.append(f"text:{e.text}")

    @node
    async def on_join(e: JoinEvent) -> None:
        trace.append("join")

    after_text, after_join = tracer(trace, "after_text", "after_join")
    flow = Flow("f", [on_text, after_text], [on_join, after_join])
    async with TestHost(flows=[flow]) as host:
        await host.emit(text("hi"))
        assert trace == ["text:hi", "after_text"]
        trace.clear()
        await host.emit(JoinEvent())
        assert trace == ["join", "after_join"]


async def test_a_union_matches_any_of_its_members() -> None:
    seen: list[str] = []

    @node
    async def either(e: MemoryEvent | JoinEvent) -> None:
        seen.append(type(e).__name__)

    @node
    async def maybe(e: OtherText | None) -> None:
        seen.append(f"maybe:{e}")

    async with TestHost(flows=[Flow("f", [either], [maybe])]) as host:
        await host.emit(text())
        await host.emit(JoinEvent())
    assert seen == ["MemoryEvent", "maybe:None", "JoinEvent", "maybe:None"]


async def test_store_and_records_are_injected() -> None:
    got: dict[str, object] = {}

    @node
    async def first(store: FlowStore) -> None:
        store["x"] = 1

    @node
    def second(store: FlowStore, records: tuple[FlowRecord, ...], *, e: Event) -> None:
        got["x"] = store["x"]
        got["stages"] = [(r.stage, r.node_name) for r in records]
        got["event"] = e

    ev = text()
    async with TestHost(flows=[Flow("f", [first, second])]) as host:
        await host.emit(ev)
    assert got["x"] == 1
    assert got["event"] is ev
    assert got["stages"] == [
        (RecordStage.NODE_START, "first"),
        (RecordStage.NODE_FINISH, "first"),
        (RecordStage.NODE_START, "second"),
    ]


async def test_skipped_nodes_are_recorded() -> None:
    got: list[FlowRecord] = []

    @node
    async def only_join(e: JoinEvent) -> None: ...

    @node
    async def report(records: tuple[FlowRecord, ...]) -> None:
        got.extend(records)

    async with TestHost(flows=[Flow("f", [only_join], [report])]) as host:
        await host.emit(text())
    assert got[:2] == [
        FlowRecord(RecordStage.NODE_START, "f", "only_join"),
        FlowRecord(RecordStage.DEPENDS_NOT_MATCH, "f", "only_join", "e: JoinEvent"),
    ]


class Settings:
    def __init__(self, value: str) -> None:
        self.value = value


class Api:
    pass


async def test_runtime_services_are_injected_through_the_registry() -> None:
    seen: list[str] = []

    @node
    async def uses_settings(s: Settings) -> None:
        seen.append(s.value)

    @node
    async def uses_api(api: Api) -> None:
        seen.append("api")

    def settings_provider(run: FlowRun) -> Settings:
        return Settings(f"for {run.flow.name}")

    def api_provider(run: FlowRun) -> Api:
        raise NoMatch  # e.g. no platform API for this event's bot

    async with TestHost(flows=[Flow("plug", [uses_settings], [uses_api])]) as host:
        host.services.register(Settings, settings_provider)
        host.services.register(Api, api_provider)
        await host.emit(text())
        assert seen == ["for plug"]
        host.services.unregister(Api)
        await host.emit(text())
    assert seen == ["for plug", "for plug"]


async def test_an_optional_service_is_none_where_it_does_not_apply() -> None:
    seen: list[object] = []

    @node
    async def maybe(api: Api | None, s: Settings | None) -> None:
        seen.append((api, s))

    def api_provider(run: FlowRun) -> Api:
        raise NoMatch

    async with TestHost(flows=[Flow("plug", [maybe])]) as host:
        await host.emit(text())  # neither is registered: the node still runs
        host.services.register(Api, api_provider)
        host.services.register(Settings, lambda run: Settings("set"))
        await host.emit(text())  # Api does not apply to this event: None
    assert len(seen) == 2
    assert seen[0] == (None, None)
    api, settings = seen[1]  # type: ignore[misc]
    assert api is None
    assert isinstance(settings, Settings)
    assert settings.value == "set"


def test_a_union_of_two_services_is_refused() -> None:
    async def both(x: Api | Settings) -> None:
        return None

    with pytest.raises(InjectionError, match=r"Service \| None"):
        node(both)


def test_a_parameter_without_annotation_is_refused_with_its_location() -> None:
    async def bad(x) -> None:  # type: ignore[no-untyped-def]  # noqa: ANN001
        ...

    with pytest.raises(InjectionError) as info:
        node(bad)
    assert "parameter 'x' has no annotation" in str(info.value)
    assert f"{__file__}:" in str(info.value)


def test_an_unresolvable_annotation_is_refused() -> None:
    async def bad(x: NoSuchType) -> None:  # type: ignore[name-defined]  # noqa: F821
        ...

    with pytest.raises(InjectionError, match="cannot be evaluated"):
        node(bad)


def test_parameters_with_defaults_and_no_annotation_are_left_alone() -> None:
    async def fine(x=3) -> None:  # type: ignore[no-untyped-def]  # noqa: ANN001
        ...

    assert node(fine).plan == ()


async def test_the_signature_is_read_once_when_the_node_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @node
    async def typed(e: TextEvent, store: FlowStore) -> None: ...

    calls: list[object] = []
    real = inspect.signature

    def counting(*args: object, **kwargs: object) -> inspect.Signature:
        calls.append(args[0])
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(inspect, "signature", counting)
    async with TestHost(flows=[Flow("f", [typed])]) as host:
        for _ in range(5):
            await host.emit(text())
    assert calls == []


async def test_annotations_naming_locally_imported_names_resolve_in_their_scope() -> None:
    # With `from __future__ import annotations` these are strings naming local imports:
    # they resolve against the scope the node is defined in, as pydantic does.
    from botrt.adapter import TextEvent as LocalText
    from botrt.handle import FlowStore as LocalStore

    seen: list[str] = []

    async def greet(e: LocalText, store: LocalStore) -> None:
        store["n"] = 1
        seen.append(e.text)

    made = node(greet)
    assert [p.types for p in made.plan] == [(TextEvent,), (FlowStore,)]
    async with TestHost(flows=[Flow("local", [made])]) as host:
        await host.emit(text("hi"))
    assert seen == ["hi"]


def test_a_local_name_defined_after_the_node_is_still_refused() -> None:
    async def bad(x: Later) -> None: ...

    with pytest.raises(InjectionError, match="cannot be evaluated: name 'Later'"):
        node(bad)
    Later = int
