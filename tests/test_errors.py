"""botrt's exception tree: one root, every error in it, and typed fields callers can use."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator

import pytest

import botrt
from botrt import BotrtError

# Exceptions botrt defines that stay outside the tree on purpose: control flow
# caught inside botrt, never seen by a caller (each says why where it is defined).
OUTSIDE = {
    "botrt.handle._signals.Signal",
    "botrt.handle._inject.NoMatch",
    "botrt.protocols.vk._http.TransientHttpError",
    "botrt.protocols.vk._lpserver._PollError",
    "botrt.protocols.vk._leader.LeadershipLost",
    "botrt.testing._fakevk._state.ApiError",
}


def defined_exceptions() -> Iterator[type[BaseException]]:
    """Every exception class defined in a module of botrt (not re-exported ones)."""
    for info in pkgutil.walk_packages(botrt.__path__, "botrt."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, BaseException)
                and obj.__module__ == module.__name__
            ):
                yield obj


def qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def is_outside(cls: type) -> bool:
    return any(qualname(base) in OUTSIDE for base in cls.__mro__)


def test_every_error_botrt_defines_is_in_the_tree_and_exported_from_botrt() -> None:
    errors = [c for c in defined_exceptions() if not is_outside(c)]
    assert len(errors) >= 25
    for cls in errors:
        assert issubclass(cls, BotrtError), f"{qualname(cls)} is not a BotrtError"
        assert getattr(botrt, cls.__name__) is cls, f"botrt does not export {cls.__name__}"
        assert cls.__name__ in botrt.__all__
    assert {qualname(c) for c in defined_exceptions() if is_outside(c)} >= OUTSIDE


def test_the_outside_ones_do_not_derive_from_botrt_error() -> None:
    for cls in defined_exceptions():
        if qualname(cls) in OUTSIDE:
            assert not issubclass(cls, BotrtError), qualname(cls)


@pytest.mark.parametrize("name", [n for n in botrt.__all__ if n.endswith(("Error", "Installed"))])
def test_each_error_comes_from_its_package_and_is_drawn_in_the_tree(name: str) -> None:
    cls = getattr(botrt, name)
    tree = inspect.getdoc(importlib.import_module("botrt._errors"))
    assert tree is not None
    assert re.search(rf"[─ ]{name}\b", tree), f"{name} is not drawn in the tree"
    assert inspect.getdoc(cls)
    if cls is BotrtError or cls.__module__ == "botrt._backoff":
        return  # root-level: exported by botrt itself
    package = cls.__module__.rsplit("._", 1)[0]
    assert name in importlib.import_module(package).__all__, f"{package} does not export {name}"
    assert getattr(importlib.import_module(package), name) is cls


@pytest.mark.parametrize(
    ("name", "builtin"),
    [
        ("SettingsSchemaError", TypeError),
        ("PluginNotLoadedError", ImportError),
        ("MetricError", ValueError),
        ("BackoffConfigError", ValueError),
        ("ScheduleError", ValueError),
        ("VkConfigError", ValueError),
        ("KeyboardError", ValueError),
    ],
)
def test_errors_keep_their_builtin_base(name: str, builtin: type[Exception]) -> None:
    assert issubclass(getattr(botrt, name), builtin)


def test_a_missing_plugin_is_named_in_a_field() -> None:
    from botrt.plugin import PluginNotLoadedError
    from botrt.plugin._imports import PluginImporter

    importer = PluginImporter(lambda name: None, lambda: "menu")
    importer.install()
    try:
        with pytest.raises(PluginNotLoadedError) as caught:
            importlib.import_module("botrt_plugins.base.words")
    finally:
        importer.uninstall()
    assert caught.value.plugin == "base"
    assert caught.value.name == "botrt_plugins.base"  # the parent package comes first
    assert "plugin 'base' is not running" in str(caught.value)


def test_an_unknown_bot_is_named_in_fields() -> None:
    from botrt.plugin import Messenger, UnknownBotError

    with pytest.raises(UnknownBotError) as caught:
        Messenger(lambda: {}).platform("vk-main")
    assert (caught.value.bot, caught.value.running) == ("vk-main", ())
    assert "'vk-main'" in str(caught.value)


def test_a_refused_metric_names_plugin_and_metric_in_fields() -> None:
    from prometheus_client import CollectorRegistry

    from botrt.plugin import MetricError
    from botrt.plugin._internal import PluginMetricsHub

    registry = CollectorRegistry()
    with pytest.raises(MetricError) as caught:
        PluginMetricsHub(lambda: registry).for_plugin("a").counter("9lives", "doc")
    assert (caught.value.plugin, caught.value.metric) == ("a", "9lives")


def test_a_metric_clashing_with_botrts_own_names_plugin_and_metric() -> None:
    from prometheus_client import CollectorRegistry, Counter

    from botrt.plugin import MetricError
    from botrt.plugin._internal import PluginMetricsHub

    registry = CollectorRegistry()
    Counter("botrt_a_n", "botrt's own", registry=registry)
    with pytest.raises(MetricError, match="cannot register botrt_a_n") as caught:
        PluginMetricsHub(lambda: registry).for_plugin("a").counter("n", "doc")
    assert (caught.value.plugin, caught.value.metric) == ("a", "n")


def test_a_keyboard_over_a_limit_names_the_limit_in_fields() -> None:
    import pickle

    from botrt.adapter import Keyboard, KeyboardError

    kb = Keyboard()
    for n in range(5):
        kb.button(str(n))
    with pytest.raises(KeyboardError, match="call row") as caught:
        kb.button("six")
    assert (caught.value.limit, caught.value.maximum, caught.value.value) == (
        "buttons_per_row",
        5,
        6,
    )
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.limit, copy.maximum, str(copy)) == ("buttons_per_row", 5, str(caught.value))
