"""Loading plugin folders: auto_import, namespaces, `from __plugin__ import`, relative imports."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pluginkit import echo_plugin, write_plugin

from botrt.plugin import load_plugin
from botrt.plugin._loader import unload_modules
from botrt.testing import TestHost

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def test_the_echo_example() -> None:
    async with TestHost(plugins=[EXAMPLES / "echo"]) as host:
        assert await host.send("/echo hello world") == ["hello world"]
        assert await host.send("/say hi") == ["hi"]
        assert await host.send("/echo") == ["(nothing to echo)"]


async def test_the_composable_example_builds_the_seed_graph_across_files() -> None:
    async with TestHost(plugins=[EXAMPLES / "composable"]) as host:
        (flow,) = host.dispatcher.flows
        assert [(a.name, b.name) for a, b in flow.edges] == [
            ("n1", "n2"),
            ("n1", "n3"),
            ("n2", "n3"),
            ("n_pre1", "n1"),
            ("n_pre2", "n_pre1"),
            ("n_pre2", "n1"),
            ("n3", "report"),
        ]
        replies = await host.send("/trace")
        assert replies[-1] == "n_pre2 n_pre1 n1 n2 n3 n3 n1 n2 n3 n3"
        assert await host.send("something else") == []


async def test_auto_import_takes_every_file_at_any_depth_in_sorted_order(tmp_path: Path) -> None:
    folder = write_plugin(
        tmp_path,
        "deep",
        {
            "__plugin__.py": """
                from botrt import PluginPlanner
                PLUGIN = PluginPlanner(version="1.0.0", auto_import=True)
                order = []
            """,
            "b.py": "from __plugin__ import order\norder.append('b')\n",
            "a.py": "from __plugin__ import order\norder.append('a')\n",
            "flows/test-flows.py": (
                "from __plugin__ import order\norder.append('flows/test-flows')\n"
            ),
            "flows/inner/x.py": "from __plugin__ import order\norder.append('flows/inner/x')\n",
            "__pycache__/junk.py": "raise RuntimeError('never imported')\n",
            ".hidden/junk.py": "raise RuntimeError('never imported')\n",
        },
    )
    plugin = load_plugin("deep", folder, 1)
    try:
        order = sys.modules[plugin.namespace + ".__plugin__"].order
        assert order == ["a", "b", "flows/inner/x", "flows/test-flows"]
    finally:
        unload_modules(plugin)


async def test_same_named_modules_in_two_plugins_never_collide(tmp_path: Path) -> None:
    for name, word in (("alpha", "from alpha"), ("beta", "from beta")):
        write_plugin(
            tmp_path,
            name,
            {
                "__plugin__.py": f"""
                    from botrt import PluginPlanner
                    from botrt.adapter import TextEvent
                    from botrt.handle import on_command
                    from .helpers import WORD
                    from .sub.deeper import shout

                    PLUGIN = PluginPlanner(version="1.0.0", auto_import=True)

                    @PLUGIN.use
                    @on_command("{name}")
                    async def answer(event: TextEvent) -> None:
                        await event.reply(shout(WORD))
                """,
                "helpers.py": f"WORD = {word!r}\n",
                "sub/deeper.py": "def shout(s: str) -> str:\n    return s.upper()\n",
                "extra.py": "from __plugin__ import PLUGIN\nassert PLUGIN.version == '1.0.0'\n",
            },
        )
    async with TestHost(plugins=[tmp_path / "alpha", tmp_path / "beta"]) as host:
        assert await host.send("/alpha") == ["FROM ALPHA"]
        assert await host.send("/beta") == ["FROM BETA"]
    assert "__plugin__" not in sys.modules
    assert not [
        m for m in sys.modules if m.startswith(("_botrt_plugins.alpha", "_botrt_plugins.beta"))
    ]


async def test_settings_are_injected(tmp_path: Path) -> None:
    write_plugin(
        tmp_path,
        "greeter",
        {
            "__plugin__.py": """
                from botrt import PluginPlanner
                from botrt.adapter import TextEvent
                from botrt.handle import on_command
                from botrt.plugin import PluginSettings

                PLUGIN = PluginPlanner(version="1.0.0")

                @PLUGIN.use
                @on_command("greet")
                async def greet(event: TextEvent, settings: PluginSettings) -> None:
                    await event.reply(f"{settings.get('greeting', 'hello')}, {event.user_id}")
            """
        },
    )
    config = {"plugins": {"settings": {"greeter": {"greeting": "salut"}}}}
    async with TestHost(plugins=[tmp_path / "greeter"], config=config) as host:
        assert await host.send("/greet", user_id=42) == ["salut, 42"]


async def test_disabled_plugins_do_not_load(tmp_path: Path) -> None:
    echo_plugin(tmp_path, "one", command="one", reply="1")
    echo_plugin(tmp_path, "two", command="two", reply="2")
    config = {"plugins": {"dirs": [str(tmp_path)], "enabled": ["*"], "disabled": ["two"]}}
    async with TestHost(config=config) as host:
        assert await host.send("/one") == ["1"]
        assert await host.send("/two") == ["Unknown command. Send /help to see the commands."]
        assert [p for p, _ in host.host.catalog.plugins()] == ["one"]


async def test_earlier_dirs_win_over_later_ones(tmp_path: Path) -> None:
    echo_plugin(tmp_path / "first", "same", reply="first:")
    echo_plugin(tmp_path / "second", "same", reply="second:")
    dirs = [str(tmp_path / "first"), str(tmp_path / "second")]
    async with TestHost(config={"plugins": {"dirs": dirs}}) as host:
        assert await host.send("/echo x") == ["first:x"]
