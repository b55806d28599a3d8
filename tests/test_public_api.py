"""Every public name of SPEC §4 that exists so far is importable and documented."""

from __future__ import annotations

import importlib
import inspect

import pytest

PUBLIC = {
    "botrt.handle": [
        "Flow", "FlowNode", "node", "nextn", "block", "stop", "bypass", "rewind", "flow_to",
        "get_event", "get_flow_store", "get_flow_records", "FlowStore", "FlowRecord",
        "FlowCycleError", "FlowContextError", "InjectionError", "ScheduleError",
        "on_command", "on_start_match", "on_text", "on_event", "on_schedule",
    ],
    "botrt": ["PluginPlanner", "BotrtError", "ConfigError", "PluginLoadError", "VkApiError"],
    "botrt.config": ["ConfigError", "SettingsSchemaError"],
    "botrt.plugin": [
        "PluginPlanner", "PluginLoadError", "PluginNotLoadedError", "LifecycleError",
        "BackgroundError", "MemberLookupError", "UnknownBotError", "MetricError",
    ],
    "botrt.storage": ["StorageError", "MigrationError"],
    "botrt.i18n": ["Translator", "CatalogError", "plugin_translator", "N_"],
    "botrt.adapter": [
        "Event", "TextEvent", "ScheduleEvent", "ReplyNotSupportedError", "Keyboard",
        "KeyboardError", "ButtonEvent",
    ],
    "botrt.protocols.console": ["StdinEvent"],
    "botrt.testing": [
        "TestHost", "FakeVK", "TestHostError", "FakeVKError", "PostgresError",
        "PostgresNotInstalled",
    ],
    "botrt.protocols.vk": [
        "MessageNew", "MessageEvent", "GroupJoin", "GroupLeave", "VkEvent", "VkApi", "VkApiError",
        "VkError", "VkConfigError", "VkPayloadError", "VkTransportError",
    ],
}  # fmt: skip


@pytest.mark.parametrize(("module", "name"), [(m, n) for m, names in PUBLIC.items() for n in names])
def test_name_is_public_and_documented(module: str, name: str) -> None:
    mod = importlib.import_module(module)
    assert name in mod.__all__
    obj = getattr(mod, name)
    assert inspect.getdoc(obj), f"{module}.{name} has no docstring"


@pytest.mark.parametrize("attr", ["text", "user_id", "peer_id", "platform", "bot", "payload"])
def test_text_event_has_its_attributes(attr: str) -> None:
    from botrt.testing import MemoryEvent

    assert hasattr(MemoryEvent("x", user_id=3), attr)


def test_version_is_a_string() -> None:
    import botrt

    assert isinstance(botrt.__version__, str)
    assert botrt.__version__[0].isdigit()


def test_importing_botrt_does_not_import_the_engine() -> None:
    import subprocess
    import sys

    code = "import sys, botrt; print('botrt.handle' in sys.modules, 'aiohttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_botrt_error_alone_imports_no_package() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from botrt import BotrtError, BackoffConfigError; "
        "print(sorted(m for m in sys.modules if m.startswith('botrt.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['botrt._backoff', 'botrt._errors']"
