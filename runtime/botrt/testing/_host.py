"""`TestHost`: a real host over an in-memory platform, for tests.

Each message runs on a lane of its own (`_testlane`), as the host's intake gives it.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from botrt._errors import BotrtError
from botrt.adapter import Event, ScheduleEvent
from botrt.config import BotConfig, parse_config
from botrt.handle import Dispatcher, Flow, Services
from botrt.handle._internal import LANE
from botrt.host import Host
from botrt.plugin import Clock, PluginIssue, PluginLoadError
from botrt.testing._memory import MemoryButtonEvent, MemoryEvent, MemoryOutbound
from botrt.testing._testlane import _TestLane


class TestHostError(BotrtError):
    """Raised when a `TestHost` is used outside its ``async with`` block."""


class TestHost:
    """A real host with an in-memory platform, so plugins and flows run with no network.

    ``async with TestHost(plugins=["plugins/echo"]) as host:
    assert await host.send("/echo hi") == ["hi"]``

    Messages sent through `Messenger` to the in-memory platform's bot
    (``"memory"``) are recorded in `outbound`.

    `plugins` are plugin folders; `flows` are extra flows attached directly;
    `config` is a ``bot.toml`` mapping (or a `BotConfig`) merged over the test
    defaults: SQLite in memory, no console, no built-in plugins unless
    ``{"plugins": {"builtin": True}}``. A plugin that fails to load raises
    `PluginLoadError` from ``async with``. `clock` replaces the host's clock
    (a `ManualClock`), for schedules and plugins that wait for a time.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        *,
        plugins: Iterable[str | os.PathLike[str]] = (),
        flows: Iterable[Flow] = (),
        config: Mapping[str, Any] | BotConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock
        self._flows = tuple(flows)
        self._plugins = tuple(Path(p).resolve() for p in plugins)
        self._config = config
        self._host: Host | None = None
        self.outbound = MemoryOutbound()
        self._runs: dict[asyncio.Task[None], _TestLane] = {}  # runs started by send/emit
        self._moved: asyncio.Future[None] | None = None

    def _build_config(self) -> BotConfig:
        if isinstance(self._config, BotConfig):
            return self._config
        data: dict[str, Any] = {
            "storage": {"url": "sqlite:///:memory:"},
            "console": {"enabled": False},
            "plugins": {"builtin": False, "reload": False, "dirs": [], "enabled": ["*"]},
        }
        if self._plugins:
            data["plugins"]["dirs"] = list(dict.fromkeys(str(p.parent) for p in self._plugins))
            data["plugins"]["enabled"] = [p.name for p in self._plugins]
        for section, values in copy.deepcopy(dict(self._config or {})).items():
            if isinstance(values, dict) and isinstance(data.get(section), dict):
                data[section].update(values)
            else:
                data[section] = values
        return parse_config(data, base_dir=Path.cwd())

    async def __aenter__(self) -> TestHost:
        host = Host(self._build_config(), entry_points=False)
        host.register_bot("memory", outbound=self.outbound)
        if self._clock is not None:
            host.info.clock = self._clock  # before start: on_load may already wait on it
        issues = await host.start()
        if issues:
            await host.stop()
            raise PluginLoadError(list(issues))
        host.dispatcher.replace((), self._flows)
        self._host = host
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._host is not None:
            await self._end_runs()
        host, self._host = self._host, None
        if host is not None:
            await host.stop()

    @property
    def host(self) -> Host:
        """The running host.

        :raises TestHostError: outside the ``async with`` block.
        """
        if self._host is None:
            raise TestHostError("use the TestHost inside `async with TestHost(...) as host:`")
        return self._host

    @property
    def dispatcher(self) -> Dispatcher:
        """The running host's dispatcher."""
        return self.host.dispatcher

    @property
    def services(self) -> Services:
        """The services flows can be injected with; register test doubles here."""
        return self.host.services

    @property
    def load_issues(self) -> list[PluginIssue]:
        """Problems found while loading (empty: a problem makes ``async with`` raise)."""
        return self.host.load_issues

    async def send(self, text: str, *, user_id: int = 1, role: str = "member") -> list[str]:
        """Deliver a text message from `user_id` and return the replies.

        Returns once every flow has finished with the message, or waits in
        `botrt.handle.ask` for the user's answer: a test plays a dialogue by
        sending the answer next (its replies are those of the resumed run,
        until it asks again or ends).

        :raises TestHostError: outside the ``async with`` block.
        """
        ev = MemoryEvent(text, user_id=user_id, role=role, outbound=self.outbound)
        await self._deliver(ev)
        return list(ev.replies)

    async def run_schedules(self) -> list[ScheduleEvent]:
        """Run the scheduled flows whose slot is due by the host's clock; return their events.

        A served host does this by itself; a `TestHost` does it when asked,
        so a test decides when time passes (`ManualClock.advance`) and when
        the slots are checked. Each slot runs once, as in production.

        :raises TestHostError: outside the ``async with`` block.
        """
        return await self.host.scheduler.run_due()

    async def emit(self, event: Event) -> list[str]:
        """Deliver any event; returns its replies when it is a `MemoryEvent`.

        :raises TestHostError: outside the ``async with`` block.
        """
        await self._deliver(event)
        return list(event.replies) if isinstance(event, MemoryEvent) else []

    async def press(self, label: str, *, user_id: int = 1, role: str = "member") -> list[str]:
        """Press the button labelled `label` on a keyboard the bot sent `user_id`; return replies.

        The newest keyboard in the user's conversation that has such a button
        is pressed: a reply's, a `Messenger` message's, an inline keyboard's
        or the standard one (a one-time standard keyboard hides after the
        press, as on VK). A text button delivers a message whose `text` is
        the label and whose `payload` is the button's; a callback button
        delivers a `ButtonEvent` (snackbars land in `outbound.snackbars`,
        edits on the message in `outbound.messages`). Returns the texts of
        the messages sent to the user while the press was handled.

        :raises TestHostError: outside the ``async with`` block, or when no
            keyboard sent to the user has a button labelled `label` (the
            message lists the labels there are).
        """
        self.host  # noqa: B018 (raises TestHostError outside `async with`)
        outbound = self.outbound
        found = outbound.find_button(user_id, label)
        if found is None:
            labels = [
                b.label for m in outbound.keyboards(user_id) if m.keyboard for b in m.keyboard
            ]
            raise TestHostError(
                f"no keyboard sent to user {user_id} has a button {label!r}; "
                f"buttons there: {', '.join(map(repr, dict.fromkeys(labels))) or 'none'}"
            )
        message, button = found
        start = len(outbound.messages)
        event: Event
        if button.callback:
            event = MemoryButtonEvent(
                message=message,
                outbound=outbound,
                user_id=user_id,
                role=role,
                payload=button.payload,
            )
        else:
            keyboard = message.keyboard
            if keyboard is not None and keyboard.one_time:
                message.keyboard = None
            event = MemoryEvent(
                label, user_id=user_id, role=role, payload=button.payload, outbound=outbound
            )
        await self.emit(event)
        return [m.text for m in outbound.messages[start:] if m.peer_id == user_id]

    async def settle(self) -> None:
        """Wait until every run started by `send` or `emit` has ended or waits in `ask`.

        For what happens without a message: after `ManualClock.advance` past
        an ask's timeout, it waits until those asks have timed out and their
        runs have told their users and ended (or asked again).

        :raises TestHostError: outside the ``async with`` block.
        """
        host = self.host
        waiting = host.dispatcher.dialogues.waiting
        while True:
            busy = {
                task
                for task, lane in self._runs.items()
                if not task.done()
                and not (lane.waiter is not None and waiting.get(lane.waiter.key) is lane.waiter)
            }
            if not busy and not host.dispatcher.dialogues.overdue():
                return
            self._moved = moved = asyncio.get_running_loop().create_future()
            await asyncio.wait({*busy, moved}, return_when=asyncio.FIRST_COMPLETED)

    async def _deliver(self, event: Event) -> None:
        # A lane of its own, as the host's intake gives each event: a run that waits
        # in ask() detaches from it, and the send returns.
        waiter = self.host.dispatcher.dialogues.waiting.get(
            (event.bot, getattr(event, "peer_id", None), getattr(event, "user_id", None))
        )
        resumed = waiter.lane if waiter is not None else None
        if isinstance(resumed, _TestLane):
            resumed.echo_to(event)
        lane = _TestLane(self, event)
        context = contextvars.copy_context()
        context.run(LANE.set, lane)
        task = asyncio.get_running_loop().create_task(self._run(event, lane), context=context)
        self._runs[task] = lane
        task.add_done_callback(self._runs.pop)
        try:
            await asyncio.wait({task, lane.detached_future}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if isinstance(resumed, _TestLane):
                resumed.echo_to(None)
        if task.done():
            task.result()  # what the host raised

    async def _run(self, event: Event, lane: _TestLane) -> None:
        try:
            await self.host.handle(event)
        finally:
            if lane.detached:
                lane.finished()

    def _nudge(self) -> None:
        moved = self._moved
        if moved is not None and not moved.done():
            moved.set_result(None)

    async def _end_runs(self) -> None:
        # A stop: the runs waiting in ask() tell their users and end.
        while self._runs:
            for lane in self._runs.values():
                lane.end()
            await asyncio.wait(set(self._runs))
