"""Load-time validation: every problem reported at once, each with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pluginkit import echo_plugin, line_of, write_plugin

from botrt.config import parse_config
from botrt.host import Host
from botrt.plugin import PluginLoadError, load_plugin
from botrt.testing import TestHost

pytestmark = pytest.mark.anyio


def only_issue(folder: Path) -> str:
    with pytest.raises(PluginLoadError) as info:
        load_plugin(folder.name, folder, 1)
    (issue,) = info.value.issues
    return str(issue)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    folder = write_plugin(
        tmp_path,
        "broken",
        {"__plugin__.py": "from botrt import PluginPlanner\nP = PluginPlanner('1')\ndef oops(:\n"},
    )
    assert only_issue(folder).startswith(f"{folder / '__plugin__.py'}:3: plugin 'broken': ")
    assert "SyntaxError" in only_issue(folder)


def test_exception_at_import_names_the_last_frame_in_the_plugin(tmp_path: Path) -> None:
    folder = write_plugin(
        tmp_path,
        "raiser",
        {
            "__plugin__.py": """
                from botrt import PluginPlanner
                PLUGIN = PluginPlanner(version="1.0.0", auto_import=True)
            """,
            "util.py": """
                def explode():
                    raise ValueError("bad value in util")
            """,
            "main.py": """
                from .util import explode
                explode()
            """,
        },
    )
    line = line_of(folder / "util.py", "raise ValueError")
    assert only_issue(folder) == (
        f"{folder / 'util.py'}:{line}: plugin 'raiser': ValueError: bad value in util"
    )


def test_no_planner(tmp_path: Path) -> None:
    folder = write_plugin(tmp_path, "empty", {"__plugin__.py": "x = 1\n"})
    assert "creates no PluginPlanner" in only_issue(folder)


def test_no_plugin_file(tmp_path: Path) -> None:
    (tmp_path / "nothing").mkdir()
    assert "no __plugin__.py" in only_issue(tmp_path / "nothing")


def test_two_planners(tmp_path: Path) -> None:
    folder = write_plugin(
        tmp_path,
        "twice",
        {
            "__plugin__.py": (
                "from botrt import PluginPlanner\nA = PluginPlanner('1')\nB = PluginPlanner('2')\n"
            )
        },
    )
    message = only_issue(folder)
    assert "more than one PluginPlanner" in message
    assert f"{folder / '__plugin__.py'}:2" in message
    assert f"{folder / '__plugin__.py'}:3" in message


def test_a_cycle_closed_in_another_file_names_its_line_and_nodes(tmp_path: Path) -> None:
    folder = write_plugin(
        tmp_path,
        "cyclic",
        {
            "__plugin__.py": """
                from botrt import PluginPlanner
                from botrt.handle import Flow
                PLUGIN = PluginPlanner(version="1.0.0", auto_import=True)
                flow = PLUGIN.use(Flow("loop"))
            """,
            "nodes.py": """
                from __plugin__ import flow as f
                from botrt.handle import node

                @f.add
                @node
                async def first() -> None: ...

                @f.after(first)
                @node
                async def second() -> None: ...

                f.after(second)(first)
            """,
        },
    )
    line = line_of(folder / "nodes.py", "f.after(second)(first)")
    assert only_issue(folder) == (
        f"{folder / 'nodes.py'}:{line}: plugin 'cyclic': FlowCycleError: "
        "flow 'loop' would have a cycle: second -> first -> second"
    )


def test_use_of_a_plain_function_is_refused_with_a_hint(tmp_path: Path) -> None:
    folder = write_plugin(
        tmp_path,
        "plain",
        {
            "__plugin__.py": """
                from botrt import PluginPlanner
                PLUGIN = PluginPlanner(version="1.0.0")

                @PLUGIN.use
                async def handler() -> None: ...
            """
        },
    )
    assert "decorate the function with an event binder" in only_issue(folder)


async def test_everything_is_reported_at_once(tmp_path: Path) -> None:
    write_plugin(tmp_path, "bad1", {"__plugin__.py": "import no_such_module_anywhere\n"})
    write_plugin(tmp_path, "bad2", {"__plugin__.py": "x = (\n"})
    echo_plugin(tmp_path, "good")
    with pytest.raises(PluginLoadError) as info:
        async with TestHost(config={"plugins": {"dirs": [str(tmp_path)]}}):
            pass
    messages = [str(i) for i in info.value.issues]
    assert len(messages) == 2
    assert "ModuleNotFoundError" in messages[0]
    assert "'bad1'" in messages[0]
    assert "SyntaxError" in messages[1]


async def test_command_clash_across_plugins(tmp_path: Path) -> None:
    echo_plugin(tmp_path, "a_first", command="ping")
    second = echo_plugin(tmp_path, "b_second", command="pong", aliases=("ping",))
    with pytest.raises(PluginLoadError) as info:
        async with TestHost(config={"plugins": {"dirs": [str(tmp_path)]}}):
            pass
    (issue,) = info.value.issues
    assert issue.plugin == "b_second"
    assert issue.file == str(second / "__plugin__.py")
    assert "command name 'ping' is already taken by plugin 'a_first'" in issue.message


UNINJECTABLE = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command
from botrt.plugin import PluginSettings

PLUGIN = PluginPlanner(version="1.0.0")


@PLUGIN.use
@on_command("stats")
async def stats(event: TextEvent, db: dict, settings: PluginSettings) -> None:
    await event.reply("never")
"""


async def test_a_parameter_nothing_can_fill_is_refused_at_load(tmp_path: Path) -> None:
    folder = write_plugin(tmp_path, "stats", {"__plugin__.py": UNINJECTABLE})
    with pytest.raises(PluginLoadError) as info:
        async with TestHost(config={"plugins": {"dirs": [str(tmp_path)]}}):
            pass
    (issue,) = info.value.issues
    assert (issue.plugin, issue.file) == ("stats", str(folder / "__plugin__.py"))
    assert issue.line == line_of(folder / "__plugin__.py", "@PLUGIN.use")  # where the def starts
    assert "node 'stats': parameter 'db' is annotated 'db: dict'" in issue.message
    assert "neither an Event type nor a service this host provides" in issue.message
    assert "PluginSettings" in issue.message  # says what can be injected


async def test_a_service_the_host_registers_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "weather_types.py").write_text("class Weather:\n    pass\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    import weather_types  # type: ignore[import-not-found]

    source = UNINJECTABLE.replace("db: dict", "w: Weather").replace(
        "from botrt.adapter", "from weather_types import Weather\nfrom botrt.adapter"
    )
    write_plugin(tmp_path / "plugins", "weather", {"__plugin__.py": source})
    config = parse_config(
        {
            "storage": {"url": "sqlite:///:memory:"},
            "console": {"enabled": False},
            "plugins": {"builtin": False, "reload": False, "dirs": [str(tmp_path / "plugins")]},
        },
        base_dir=tmp_path,
    )
    host = Host(config, entry_points=False)
    host.services.register(weather_types.Weather, lambda run: weather_types.Weather())
    try:
        assert await host.start() == []
        assert "weather" in host.runtime.plugins
    finally:
        await host.stop()
