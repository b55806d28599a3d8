"""The hot-reload fault matrix: real files, a real watcher, a real host."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest
from reloadkit import line_of, running_bot, versioned

pytestmark = pytest.mark.anyio


async def test_an_edit_is_picked_up(tmp_path: Path) -> None:
    async with running_bot(tmp_path, {"ver/__plugin__.py": versioned("1")}) as bot:
        assert await bot.send("/ver") == ["1"]
        bot.write("ver/__plugin__.py", versioned("2"))
        assert await bot.observer.next("reloaded") == ("reloaded", "ver", "2")
        assert await bot.send("/ver") == ["2"]


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ("def oops(:\n", "__plugin__.py:1: plugin 'ver': SyntaxError"),
        ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
    ],
)
async def test_a_broken_edit_is_refused_and_the_old_version_keeps_serving(
    tmp_path: Path, broken: str, expected: str
) -> None:
    async with running_bot(tmp_path, {"ver/__plugin__.py": versioned("1")}) as bot:
        bot.write("ver/__plugin__.py", broken)
        _, name, issues = await bot.observer.next("refused")
        assert name == "ver"
        assert expected in issues[0]
        assert str(bot.plugins / "ver" / "__plugin__.py") in issues[0]
        assert await bot.send("/ver") == ["1"]
        # The fix goes live.
        bot.write("ver/__plugin__.py", versioned("3"))
        assert await bot.observer.next("reloaded") == ("reloaded", "ver", "3")
        assert await bot.send("/ver") == ["3"]


async def test_a_cycle_is_refused_with_its_nodes_named(tmp_path: Path) -> None:
    plugin = """
        from botrt import PluginPlanner
        from botrt.handle import Flow, node

        @node
        async def a() -> None: ...

        @node
        async def b() -> None: ...

        PLUGIN = PluginPlanner(version="{v}")
        PLUGIN.use(Flow("f", [a, b]{extra}))
    """
    files = {"cyc/__plugin__.py": plugin.format(v="1", extra="")}
    async with running_bot(tmp_path, files) as bot:
        bot.write("cyc/__plugin__.py", plugin.format(v="2", extra=", [b, a]"))
        _, _, issues = await bot.observer.next("refused")
        assert "flow 'f' would have a cycle: b -> a -> b" in issues[0]
        line = line_of(bot.plugins / "cyc" / "__plugin__.py", 'PLUGIN.use(Flow("f"')
        assert f"__plugin__.py:{line}: plugin 'cyc'" in issues[0]
        assert bot.host.runtime.plugins["cyc"].version == "1"


async def test_folders_come_and_go(tmp_path: Path) -> None:
    async with running_bot(tmp_path, {"ver/__plugin__.py": versioned("1")}) as bot:
        bot.write("newcomer/__plugin__.py", versioned("1", command="new", reply="hello"))
        assert await bot.observer.next("loaded") == ("loaded", "newcomer", "1")
        assert await bot.send("/new") == ["hello"]
        assert sorted(c.name for c in bot.host.catalog.all()) == ["new", "ver"]

        for path in sorted((bot.plugins / "ver").rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        (bot.plugins / "ver").rmdir()
        assert await bot.observer.next("unloaded") == ("unloaded", "ver", "1")
        # Gone: an unknown command now, which a private chat gets a hint for.
        assert await bot.send("/ver") == ["Unknown command. Send /help to see the commands."]
        assert [c.name for c in bot.host.catalog.all()] == ["new"]

        (bot.plugins / "newcomer").rename(bot.plugins / "renamed")
        assert (await bot.observer.next("loaded"))[1] == "renamed"
        assert any(e[:2] == ("unloaded", "newcomer") for e in bot.observer.log)
        assert await bot.send("/new") == ["hello"]


async def test_a_burst_of_saves_ends_on_the_last_version(tmp_path: Path) -> None:
    async with running_bot(tmp_path, {"ver/__plugin__.py": versioned("0")}) as bot:
        for v in range(1, 11):
            bot.write("ver/__plugin__.py", versioned(str(v)))
        while (await bot.observer.next("reloaded"))[2] != "10":
            pass
        assert await bot.send("/ver") == ["10"]
        assert bot.observer.count("reloaded") < 10


async def test_an_atomic_rename_save_is_one_reload(tmp_path: Path) -> None:
    async with running_bot(tmp_path, {"ver/__plugin__.py": versioned("1")}) as bot:
        bot.write_atomically("ver/__plugin__.py", versioned("2"))
        assert await bot.observer.next("reloaded") == ("reloaded", "ver", "2")
        assert await bot.send("/ver") == ["2"]
        assert bot.observer.count("reloaded") == 1
        assert bot.observer.count("refused") == 0


SLOW = """
import botrt_test_gates as gates
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command

PLUGIN = PluginPlanner(version="{v}")


@PLUGIN.use
@on_command("work")
async def work(event: TextEvent) -> None:
    if "{v}" == "1":
        gates.started.set()
        await gates.release.wait()
    await event.reply("done by {v}")


@PLUGIN.on_unload
def handover() -> str:
    gates.unloaded_while_busy.append(gates.release.is_set())
    return "state of {v}"


@PLUGIN.on_load
def take(previous) -> None:
    gates.previous.append(previous)
"""


async def test_in_flight_events_finish_on_the_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import types

    gates = types.ModuleType("botrt_test_gates")
    gates.started = anyio.Event()
    gates.release = anyio.Event()
    gates.unloaded_while_busy = []
    gates.previous = []
    monkeypatch.setitem(sys.modules, "botrt_test_gates", gates)

    async with running_bot(tmp_path, {"slow/__plugin__.py": SLOW.format(v="1")}) as bot:
        results: dict[str, list[str]] = {}

        async def send(label: str) -> None:
            results[label] = await bot.send("/work")

        async with anyio.create_task_group() as tg:
            tg.start_soon(send, "in flight")
            await gates.started.wait()
            bot.write("slow/__plugin__.py", SLOW.format(v="2"))
            # The swap holds the plugin's flows at a gate until the hand-over is
            # done; poll for the gate (no timing involved).
            with anyio.fail_after(15):
                while not bot.host.dispatcher.gates:
                    await anyio.lowlevel.checkpoint()
            tg.start_soon(send, "after swap")
            gates.release.set()
        assert results == {"in flight": ["done by 1"], "after swap": ["done by 2"]}
        assert await bot.observer.next("reloaded") == ("reloaded", "slow", "2")
        assert gates.unloaded_while_busy == [True]  # on_unload waited for the event
        assert gates.previous == [None, "state of 1"]


@pytest.mark.timeout(900)  # 200 reloads: seconds alone, minutes with every core busy
async def test_many_reloads_lose_no_event_and_leak_no_module(tmp_path: Path) -> None:
    async with running_bot(tmp_path, {"ver/__plugin__.py": versioned("0")}) as bot:
        folder = bot.plugins / "ver"

        def generations() -> list[str]:
            # The plugin's own modules, one package per loaded generation. (Not all of
            # sys.modules: the first reload or send in this process may import a module
            # of the standard library or of botrt for the first time, which is no leak.)
            return [name for name in sys.modules if name.startswith("_botrt_plugins.ver__")]

        before = len(generations())
        assert before >= 1  # the live generation is counted: the check below can fail
        replies: list[list[str]] = []
        stop = anyio.Event()

        async def keep_sending() -> None:
            while not stop.is_set():
                replies.append(await bot.send("/ver"))
                await anyio.lowlevel.checkpoint()

        async with anyio.create_task_group() as tg:
            tg.start_soon(keep_sending)
            for v in range(1, 201):
                (folder / "__plugin__.py").write_text(versioned(str(v)), encoding="utf-8")
                assert await bot.reloader.reload("ver", folder)
            stop.set()
        assert await bot.send("/ver") == ["200"]
        assert len(replies) > 0
        assert all(len(r) == 1 for r in replies)  # every event answered exactly once
        versions = [int(r[0]) for r in replies]
        assert versions == sorted(versions)
        # 200 generations came and went: at most the live one and one still retiring
        # (its modules go once its last run ends, which a busy machine may delay).
        assert len(generations()) <= 2 * before


async def test_a_plugin_that_imports_another_is_reloaded_after_it(tmp_path: Path) -> None:
    base = """
        from botrt import PluginPlanner
        PLUGIN = PluginPlanner(version="{v}")
    """
    words = "WORD = {word!r}\n"
    user = """
        from botrt import PluginPlanner
        from botrt.adapter import TextEvent
        from botrt.handle import on_command
        from botrt_plugins.base.words import WORD

        PLUGIN = PluginPlanner(version="1")

        @PLUGIN.use
        @on_command("word")
        async def word(event: TextEvent) -> None:
            await event.reply(WORD)
    """
    files = {
        # "a_user" sorts first: it is loaded after "base" all the same.
        "a_user/__plugin__.py": user,
        "base/__plugin__.py": base.format(v="1"),
        "base/words.py": words.format(word="first"),
    }
    async with running_bot(tmp_path, files) as bot:
        assert await bot.send("/word") == ["first"]
        bot.write("base/words.py", words.format(word="second"))
        assert (await bot.observer.next("reloaded"))[1] == "base"
        assert (await bot.observer.next("reloaded"))[1] == "a_user"
        assert await bot.send("/word") == ["second"]


async def test_bot_toml_edits_apply_live_and_restart_keys_are_only_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = """
        from botrt import PluginPlanner
        from botrt.adapter import TextEvent
        from botrt.handle import on_command
        from botrt.plugin import PluginSettings

        PLUGIN = PluginPlanner(version="1")

        @PLUGIN.use
        @on_command("greet")
        async def greet(event: TextEvent, settings: PluginSettings) -> None:
            await event.reply(str(settings.get("greeting", "hello")))
    """
    files = {"greeter/__plugin__.py": settings, "ver/__plugin__.py": versioned("1")}
    async with running_bot(tmp_path, files) as bot:
        assert await bot.send("/greet") == ["hello"]
        toml = bot.root / "bot.toml"
        base = toml.read_text(encoding="utf-8")
        batches = bot.reloader.batches
        toml.write_text(
            base.replace("[plugins]\n", '[plugins]\ndisabled = ["ver"]\n').replace(
                "[console]\nenabled = false\n",
                "[console]\nenabled = false\n[server]\nport = 9999\n",
            )
            + '[plugins.settings.greeter]\ngreeting = "salut"\n'
            + '[bot]\nprefixes = ["!"]\n',
            encoding="utf-8",
        )
        await bot.reloader.wait_batches(batches + 1)
        assert await bot.send("!greet") == ["salut"]
        assert await bot.send("/greet") == []
        # Disabled: unloaded, an unknown command (the hint names the new prefix).
        assert await bot.send("!ver") == ["Unknown command. Send !help to see the commands."]
        assert bot.host.config.server.port == 8080  # needs a restart: not applied
        assert any(
            "server" in r.getMessage() and "restart" in r.getMessage() for r in caplog.records
        )


async def test_nodes_a_plugin_adds_to_another_plugins_flow_do_not_pile_up(tmp_path: Path) -> None:
    menu = """
        from botrt import PluginPlanner
        from botrt.adapter import TextEvent
        from botrt.handle import Flow, FlowStore, node

        PLUGIN = PluginPlanner(version="1")
        menu = PLUGIN.use(Flow("menu"))
        menu.set_guard(lambda e: getattr(e, "text", "") == "/menu")

        @menu.add
        @node
        async def header(event: TextEvent, store: FlowStore) -> None:
            store["items"] = ["menu:"]
    """
    extra = """
        from botrt import PluginPlanner
        from botrt.adapter import TextEvent
        from botrt.handle import FlowStore, node
        from botrt_plugins.menu.__plugin__ import header, menu

        PLUGIN = PluginPlanner(version="{v}")

        @menu.after(header)
        @node
        async def item(event: TextEvent, store: FlowStore) -> None:
            await event.reply(" ".join([*store["items"], "{v}"]))
    """
    files = {"menu/__plugin__.py": menu, "extra/__plugin__.py": extra.format(v="v1")}
    async with running_bot(tmp_path, files) as bot:
        assert await bot.send("/menu") == ["menu: v1"]
        folder = bot.plugins / "extra"
        for v in ("v2", "v3"):
            bot.write("extra/__plugin__.py", extra.format(v=v))
            assert await bot.reloader.reload("extra", folder)
        assert await bot.send("/menu") == ["menu: v3"]
        (folder / "__plugin__.py").write_text("raise RuntimeError('broken')\n", encoding="utf-8")
        assert not await bot.reloader.reload("extra", folder)
        assert await bot.send("/menu") == ["menu: v3"]  # a refused load adds nothing
        await bot.reloader.unload("extra")
        assert await bot.send("/menu") == []
        (menu_flow,) = bot.host.runtime.plugins["menu"].flows
        assert [n.name for n in menu_flow.nodes] == ["header"]


async def test_a_live_bot_toml_edit_is_checked_as_check_does(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    typed = """
        from dataclasses import dataclass

        from botrt import PluginPlanner
        from botrt.adapter import TextEvent
        from botrt.handle import on_command
        from botrt.plugin import PluginSettings

        @dataclass
        class Settings:
            lessons: list[str]

        PLUGIN = PluginPlanner(version="1", settings=Settings)

        @PLUGIN.use
        @on_command("lessons")
        async def lessons(event: TextEvent, settings: PluginSettings) -> None:
            await event.reply(",".join(settings.get("lessons", [])))
    """
    files = {"typed/__plugin__.py": typed}
    toml_text = '[plugins.settings.typed]\nlessons = ["math"]\n'
    async with running_bot(tmp_path, files, toml=toml_text) as bot:
        assert await bot.send("/lessons") == ["math"]
        toml = bot.root / "bot.toml"
        base = toml.read_text(encoding="utf-8")
        for broken, named in [
            (base.replace('lessons = ["math"]', "lessons = 5"), "plugins.settings.typed.lessons"),
            (base.replace("[plugins]\n", '[plugins]\nenabled = ["typo"]\n'), "plugins.enabled"),
        ]:
            caplog.clear()
            batches = bot.reloader.batches
            toml.write_text(broken, encoding="utf-8")
            await bot.reloader.wait_batches(batches + 1)
            refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
            assert len(refusals) == 1, refusals
            assert str(toml) in refusals[0]
            assert named in refusals[0]
            assert await bot.send("/lessons") == ["math"]  # the running settings stay
