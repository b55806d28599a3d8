"""`DirectHook` gives what pluggy's own call gives: order, results, late registrations."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pluggy
import pytest

from botrt.host._direct_hook import DirectHook

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
