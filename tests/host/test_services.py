"""The host's services: one table serves flow runs and lifecycle functions alike."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from botrt.config import parse_config
from botrt.handle import CommandArgs, Conversation, NoMatch, Services
from botrt.host import Host
from botrt.host._services import Service, ServiceTable
from botrt.plugin import Background, Members, PluginSettings
from botrt.storage import PluginStorage

pytestmark = pytest.mark.anyio


def run_in(plugin: str | None) -> Any:
    return SimpleNamespace(flow=SimpleNamespace(plugin=plugin))


class Shared:
    pass


class Owned:
    def __init__(self, plugin: str) -> None:
        self.plugin = plugin


class Named:
    def __init__(self, plugin: str) -> None:
        self.plugin = plugin


def test_a_flow_run_and_a_lifecycle_function_get_the_same_services() -> None:
    shared = Shared()
    table = ServiceTable(
        [Service.one(Shared, shared), Service(Owned, Owned, per_plugin=True), Service(Named, Named)]
    )
    services = Services()
    table.install(services)
    lifecycle = table.for_plugin("p")
    assert set(services) == set(lifecycle) == {Shared, Owned, Named}
    assert services[Shared](run_in("p")) is lifecycle[Shared] is shared
    assert services[Owned](run_in("p")).plugin == lifecycle[Owned].plugin == "p"
    assert services[Named](run_in(None)).plugin == ""  # outside plugins: made for ""
    with pytest.raises(NoMatch):
        services[Owned](run_in(None))  # a per-plugin service needs a plugin


async def test_the_host_gives_lifecycle_functions_every_service_flows_get() -> None:
    config = parse_config(
        {
            "console": {"enabled": False},
            "plugins": {"builtin": False, "dirs": [], "settings": {"p": {"x": 1}}},
            "storage": {"url": "sqlite:///:memory:"},
        },
        base_dir=".",
    )
    async with Host(config, entry_points=False) as host:
        lifecycle = host._lifecycle_services("p")
        # The dispatcher adds its own per-event values (command arguments, the
        # sender's conversation) beside them.
        assert set(lifecycle) == set(host.services) - {CommandArgs, Conversation}
        assert {PluginStorage, Members} <= set(lifecycle)
        settings = host.services[PluginSettings](run_in("p"))
        assert settings["x"] == lifecycle[PluginSettings]["x"] == 1
        assert isinstance(host.services[Background](run_in("p")), Background)
        assert isinstance(lifecycle[Background], Background)
