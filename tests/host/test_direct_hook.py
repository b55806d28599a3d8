"""`DirectHook` gives what pluggy's own call gives: order, results, late registrations.

It keeps the implementations between calls: every test that registers or removes
one checks that the next call sees the change, also when the count stays the same.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pluggy
import pytest

from botrt.adapter import Event, TextEvent
from botrt.config import parse_config
from botrt.handle import Flow, node
from botrt.hooks import hookimpl
from botrt.host import Host
from botrt.host._direct_hook import DirectHook
from botrt.testing import MemoryEvent

spec = pluggy.HookspecMarker("t")
impl = pluggy.HookimplMarker("t")


class Spec:
    @spec
    def seen(self, host: Any, event: Any) -> Any:
        """The hook under test."""


def manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("t")
    pm.add_hookspecs(Spec)
    return pm


class Answers:
    def __init__(self, name: str, answer: Any, calls: list[str]) -> None:
        self.name, self.answer, self.calls = name, answer, calls

    @impl
    def seen(self, event: Any) -> Any:  # names only the argument it wants, as pluggy allows
        self.calls.append(f"{self.name}:{event}")
        return self.answer


class First(Answers):
    @impl(tryfirst=True)
    def seen(self, event: Any) -> Any:
        self.calls.append(f"{self.name}:{event}")
        return self.answer


def test_same_results_and_order_as_pluggy() -> None:
    calls: list[str] = []
    pm = manager()
    pm.register(Answers("a", None, calls))
    pm.register(Answers("b", False, calls))
    pm.register(First("c", True, calls))
    pm.register(Answers("d", 4, calls))
    direct = DirectHook(pm.hook.seen)
    assert direct(host=1, event="e") == pm.hook.seen(host=1, event="e") == [True, 4, False]
    assert calls == ["c:e", "d:e", "b:e", "a:e"] * 2


def test_registrations_after_the_first_call_are_seen() -> None:
    calls: list[str] = []
    pm = manager()
    direct = DirectHook(pm.hook.seen)
    assert direct(host=1, event="e") == []
    late = Answers("late", "x", calls)
    pm.register(late)
    assert direct(host=1, event="f") == ["x"]
    pm.unregister(late)
    assert direct(host=1, event="g") == []
    assert calls == ["late:f"]


def test_an_implementation_replaced_by_another_is_seen() -> None:
    # A reload of a hook module: the old one out, a new one in, as many as before.
    calls: list[str] = []
    pm = manager()
    kept = Answers("kept", 0, calls)
    pm.register(kept)
    old = Answers("old", 1, calls)
    pm.register(old)
    direct = DirectHook(pm.hook.seen)
    assert direct(host=1, event="e") == [1, 0]
    pm.unregister(old)
    pm.register(Answers("new", 2, calls))
    assert direct(host=1, event="f") == [2, 0]
    pm.unregister(kept)  # the other one goes: the new one stays
    pm.register(First("first", 3, calls))
    assert direct(host=1, event="g") == [3, 2]
    assert calls == ["old:e", "kept:e", "new:f", "kept:f", "first:g", "new:g"]


class Opaque:
    """A hook caller that shows only pluggy's public face (no ``_hookimpls``)."""

    def __init__(self, caller: pluggy.HookCaller) -> None:
        self.caller = caller

    def get_hookimpls(self) -> list[pluggy.HookImpl]:
        return self.caller.get_hookimpls()

    def __call__(self, **kwargs: Any) -> list[Any]:
        return self.caller(**kwargs)


def test_without_pluggy_internals_a_replaced_implementation_is_seen_too() -> None:
    calls: list[str] = []
    pm = manager()
    old = Answers("old", 1, calls)
    pm.register(old)
    direct = DirectHook(Opaque(pm.hook.seen))  # type: ignore[arg-type]
    assert direct(host=1, event="e") == [1]
    pm.unregister(old)
    pm.register(Answers("new", 2, calls))
    assert direct(host=1, event="f") == [2]
    assert calls == ["old:e", "new:f"]


def test_an_error_stops_the_call_as_in_pluggy() -> None:
    calls: list[str] = []

    class Boom:
        @impl
        def seen(self, event: Any) -> Any:
            raise LookupError(event)

    pm = manager()
    pm.register(Answers("a", 1, calls))
    pm.register(Boom())
    with pytest.raises(LookupError, match="e"):
        DirectHook(pm.hook.seen)(host=1, event="e")
    assert calls == []  # "a" was registered first, so it comes after the failing one


def test_a_wrapper_goes_through_pluggy() -> None:
    calls: list[str] = []

    class Wrap:
        @impl(wrapper=True)
        def seen(self, event: Any) -> Generator[None, list[Any], list[Any]]:
            results = yield
            return [*results, "wrapped"]

    pm = manager()
    pm.register(Answers("a", 1, calls))
    pm.register(Wrap())
    assert DirectHook(pm.hook.seen)(host=1, event="e") == [1, "wrapped"]


class Drops:
    """A hook module whose ``botrt_event_received`` drops the texts starting with `prefix`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @hookimpl
    def botrt_event_received(self, host: Host, event: Event) -> bool | None:
        return False if getattr(event, "text", "").startswith(self.prefix) else None


@pytest.mark.anyio
async def test_the_host_calls_the_filters_registered_now_not_those_of_its_start() -> None:
    seen: list[str] = []

    @node
    async def record(e: TextEvent) -> None:
        seen.append(e.text)

    config = parse_config(
        {
            "console": {"enabled": False},
            "plugins": {"builtin": False, "dirs": []},
            "storage": {"url": "sqlite:///:memory:"},
        },
        base_dir=".",
    )
    old = Drops("secret")
    host = Host(config, entry_points=False, hook_modules=(old,))
    host.dispatcher.add(Flow("record", [record]))
    await host.start()
    try:
        await host.handle(MemoryEvent("secret 1"))
        await host.handle(MemoryEvent("private 1"))
        host.pm.unregister(old)  # reloaded: the same count of filters, another one
        host.pm.register(Drops("private"))
        await host.handle(MemoryEvent("secret 2"))
        await host.handle(MemoryEvent("private 2"))
        host.pm.register(Drops("secret"))  # one more
        await host.handle(MemoryEvent("secret 3"))
        await host.handle(MemoryEvent("public 3"))
    finally:
        await host.stop()
    assert seen == ["private 1", "secret 2", "public 3"]
