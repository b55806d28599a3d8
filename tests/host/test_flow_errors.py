"""A failing flow: the user is told once, a plugin's on_error may answer, reporters hear of it;
an unknown command in a private chat gets a hint (SPEC §11)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from botrt.adapter import Event, TextEvent
from botrt.handle import Flow, node, on_command, on_text
from botrt.hooks import hookimpl
from botrt.testing import MemoryEvent, TestHost

pytestmark = pytest.mark.anyio

SORRY = "Sorry, something went wrong. Please try again later."
UNKNOWN = "Unknown command. Send /help to see the commands."


def failing_command(name: str = "boom", priority: int = 0) -> Flow:
    @on_command(name, priority=priority)
    async def boom(event: TextEvent) -> None:
        raise RuntimeError(f"{name} failed")

    return boom


def failing_text(name: str) -> Flow:
    @node(name=name)
    async def fails(event: TextEvent) -> None:
        raise ValueError(name)

    return Flow(name, [fails])


async def test_a_failing_command_answers_the_user_once() -> None:
    async with TestHost(flows=[failing_command()]) as host:
        assert await host.send("/boom") == [SORRY]


async def test_several_failing_flows_of_one_event_answer_once() -> None:
    # Two concurrent flows of one tier and a lower tier: three failures, one apology.
    flows = [failing_text("a"), failing_text("b"), failing_command("boom", priority=-1)]
    flows[0].update_priority(-1)
    async with TestHost(flows=flows) as host:
        assert await host.send("/boom") == [SORRY]
        assert host.host.metrics.flow_errors == {"-": 3}


async def test_the_error_reply_speaks_the_bots_language_or_is_configured() -> None:
    async with TestHost(flows=[failing_command()], config={"bot": {"language": "ru"}}) as host:
        assert await host.send("/boom") == [
            "Извините, что-то пошло не так. Попробуйте ещё раз позже."
        ]
    async with TestHost(flows=[failing_command()], config={"bot": {"error_reply": ""}}) as host:
        assert await host.send("/boom") == []
    own = {"bot": {"error_reply": "Oops."}}
    async with TestHost(flows=[failing_command()], config=own) as host:
        assert await host.send("/boom") == ["Oops."]
        assert await host.send("/boom") == ["Oops."]  # later events are told again


async def test_the_log_names_plugin_flow_and_node_with_the_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with TestHost(flows=[failing_command()]) as host:
        with caplog.at_level(logging.ERROR, logger="botrt.dispatch"):
            await host.send("/boom")
    (record,) = [r for r in caplog.records if "failed on" in r.getMessage()]
    assert "plugin '-', flow 'boom', node 'boom'" in record.getMessage()
    assert record.exc_info is not None
    assert "boom failed" in str(record.exc_info[1])


class Reporter:
    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    @hookimpl
    def botrt_flow_error(
        self,
        host: Any,
        plugin: str | None,
        flow: str,
        node: str,
        event: Event,
        exception: Exception,
    ) -> None:
        self.seen.append((plugin, flow, node, event.text, str(exception)))  # type: ignore[attr-defined]


class BrokenReporter:
    @hookimpl
    def botrt_flow_error(self, host: Any, exception: Exception) -> None:
        raise OSError("the reporting service is down")


async def test_a_reporter_hook_sees_every_error(tmp_path: Path) -> None:
    write_plugin(tmp_path, "crashy", CRASHY.format(handler=""))
    reporter = Reporter()
    async with TestHost(plugins=[tmp_path / "crashy"]) as host:
        host.host.pm.register(reporter)
        host.host.pm.register(BrokenReporter())  # logged; the user is still told
        assert await host.send("/crash now") == [SORRY]
    assert reporter.seen == [("crashy", "crash", "crash", "/crash now", "crashed: now")]


CRASHY = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import CommandArgs, on_command

PLUGIN = PluginPlanner("1.0.0")
HANDLED = []


@PLUGIN.use
@on_command("crash")
async def crash(event: TextEvent, args: CommandArgs) -> None:
    raise RuntimeError("crashed: " + args)
{handler}
"""

ANSWERS = """

@PLUGIN.on_error
async def answer(event, error):
    HANDLED.append(str(error))
    if "quiet" in str(error):
        return
    if "pass" in str(error):
        raise error
    if "broken" in str(error):
        raise KeyError("the handler itself failed")
    await event.reply("the plugin says: " + str(error))
"""


def write_plugin(root: Path, name: str, source: str) -> None:
    (root / name).mkdir()
    (root / name / "__plugin__.py").write_text(source, encoding="utf-8")


async def test_on_error_answers_for_its_plugin(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_plugin(tmp_path, "crashy", CRASHY.format(handler=ANSWERS))
    async with TestHost(plugins=[tmp_path / "crashy"], flows=[failing_command()]) as host:
        assert await host.send("/crash x") == ["the plugin says: crashed: x"]
        assert await host.send("/crash quiet") == []  # handled: the plugin chose silence
        assert await host.send("/crash pass") == [SORRY]  # re-raised: the default applies
        with caplog.at_level(logging.ERROR, logger="botrt.dispatch"):
            assert await host.send("/crash broken") == [SORRY]
        assert await host.send("/boom") == [SORRY]  # another plugin's handler is not asked
        loaded = host.host.runtime.plugins["crashy"]
        handled = sys.modules[f"{loaded.namespace}.__plugin__"].HANDLED
    # Each failure reached the handler once: a failing handler is not handled again.
    assert handled == ["crashed: x", "crashed: quiet", "crashed: pass", "crashed: broken"]
    assert any("error handler" in r.getMessage() for r in caplog.records)


async def test_an_unknown_command_in_a_private_chat_gets_a_hint() -> None:
    async with TestHost(flows=[failing_command()]) as host:
        assert await host.send("/nosuch") == [UNKNOWN]
        assert await host.send("/nosuch with words") == [UNKNOWN]
        assert await host.send("hello") == []  # not a command
        assert await host.send("/") == []  # a prefix alone
        assert await host.send("...") == []
        group = MemoryEvent("/nosuch", user_id=1)
        group.peer_id = 2000000001  # a group chat: quiet
        assert await host.emit(group) == []
    async with TestHost(
        flows=[failing_command()], config={"bot": {"language": "ru", "prefixes": ["!"]}}
    ) as host:
        assert await host.send("!nosuch") == [
            "Неизвестная команда. Отправьте !help, чтобы увидеть список команд."
        ]
    quiet = {"bot": {"unknown_command_reply": ""}}
    async with TestHost(flows=[failing_command()], config=quiet) as host:
        assert await host.send("/nosuch") == []


async def test_a_catch_all_text_flow_takes_unknown_commands_without_a_hint() -> None:
    @on_text()
    async def everything(event: TextEvent) -> None:
        await event.reply("seen")

    async with TestHost(flows=[failing_command(), everything]) as host:
        assert await host.send("/nosuch") == ["seen"]
