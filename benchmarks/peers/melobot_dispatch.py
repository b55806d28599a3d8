"""melobot 3.5.1 on the dispatch workload (run with the melobot venv's python).

Entry point: the tail of melobot's adapter input loop
(``Adapter.__adapter_input_loop__`` in ``melobot/adapter/base.py``): set the
event's origin (adapter and source), emit ``BEFORE_EVENT_HANDLE``, then
``Dispatcher.broadcast(event)``; then ``await bot.wait_finish(event)``, which
the console's event factory also awaits before reading the next line
(``melobot/bot/dispatch.py``). What is skipped is only the terminal read.
Events are ``StdinEvent``s of the console protocol, built in advance.

Seam stubbed: the terminal write at the bottom of console output
(``print_formatted_text`` in ``melobot/protocols/console/io/src.py``) appends to
a list; the console source's ``open`` skips creating a prompt_toolkit session,
and its ``input`` waits forever (the driver feeds events instead). Everything
between a handler's ``send_text`` and that write (adapter, output factory,
action handle task) runs as in a real bot.

Workload (c) adds a catch-all ``on_text`` flow above the commands
(priority `CATCH_ALL`) that counts every event without replying.

Variants: ``command`` uses ``on_command`` (melobot's command parser);
``start`` uses ``on_start_match`` (a prefix matcher), melobot's fastest binder.
"""

import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import melobot.protocols.console.io.src as console_src
from _workload import CATCH_ALL, COMMANDS, WARMUP, command, drive, parse_args, report, text, tier
from melobot import Bot, PluginPlanner
from melobot.adapter import TextEvent
from melobot.adapter.base import AdapterLifeSpan
from melobot.adapter.generic import send_text
from melobot.adapter.model import EventOrigin
from melobot.handle import Flow, node, on_command, on_start_match, on_text
from melobot.log import set_global_logger
from melobot.protocols.console import ConsoleIO, ConsoleProtocol
from melobot.protocols.console.adapter.event import StdinEvent
from melobot.protocols.console.io.model import StdinInputData

REPLIES: list[str] = []
SEEN = [0]

# melobot's shipped global logger builds a record for every debug call (its level
# is DEBUG, its console handler filters); none is wanted here, so give melobot its
# best case: no global logger, as botrt's driver has no log output either.
set_global_logger(None)


def _write(text: Any, file: Any = None, **kwargs: Any) -> None:
    REPLIES.append(str(text))


console_src.print_formatted_text = _write  # type: ignore[assignment]


class StubConsole(ConsoleIO):
    async def open(self) -> None:
        self._opened.set()

    async def close(self) -> None:
        self._opened.clear()

    async def input(self) -> Any:
        await asyncio.get_running_loop().create_future()  # never: the driver feeds events


def flows(workload: str, variant: str) -> list[Any]:
    if workload == "a":

        @node
        async def n1(event: TextEvent) -> None:
            await send_text("ok")

        def noop(i: int) -> Any:
            async def fn(event: TextEvent) -> None:
                return None

            fn.__name__ = f"n{i}"
            return node(fn)

        n2, n3, n4, n5, n6, n7 = (noop(i) for i in range(2, 8))
        return [Flow("seed", [[n1, n2], n3, n4, [n5, n6], n7])]

    made = []
    for k in range(COMMANDS):
        priority = tier(k) if workload == "c" else 0
        if variant == "command":
            binder = on_command("/", " ", command(k), priority=priority)
        else:
            binder = on_start_match(f"/{command(k)}", priority=priority)

        def replying(name: str) -> Any:
            async def handler() -> None:
                await send_text(name)

            handler.__name__ = name
            return handler

        made.append(binder(replying(command(k))))
    if workload == "c":

        async def seen() -> None:
            SEEN[0] += 1

        made.append(on_text(priority=CATCH_ALL)(seen))
    return made


def main() -> None:
    args = parse_args(("command", "start"))

    def make(start: int, count: int) -> list[Any]:
        return [StdinEvent(StdinInputData(content=text(i))) for i in range(start, start + count)]

    source = StubConsole()
    protocol = ConsoleProtocol(source)
    bot = Bot("bench")
    bot.add_protocol(protocol)
    bot.load_plugin(PluginPlanner("1.0.0", flows=flows(args.workload, args.variant)))
    adapter = protocol.adapter
    result: dict[str, Any] = {}

    async def step(event: Any) -> None:
        EventOrigin.set_origin(event, EventOrigin(adapter, source))
        await adapter._hook_bus.emit(AdapterLifeSpan.BEFORE_EVENT_HANDLE, True, args=(event,))
        adapter.dispatcher.broadcast(event)
        await bot.wait_finish(event)

    @bot.on_started
    async def run() -> None:
        result["timed"] = await drive(make, step, seconds=args.seconds, events=args.events)
        expected = result["timed"][0] + WARMUP
        for _ in range(1000):  # replies are written by tasks of their own: let the last land
            if len(REPLIES) >= expected:
                break
            await asyncio.sleep(0)
        await bot.close()

    bot.run()
    done, seconds = result["timed"]
    want = ["ok" if args.workload == "a" else text(i).lstrip("/") for i in range(done + WARMUP)]
    if sorted(REPLIES) != sorted(want):  # its output tasks may finish out of order
        raise SystemExit("melobot's replies do not answer the events")
    if args.workload == "c" and SEEN[0] != done + WARMUP:
        raise SystemExit(f"the catch-all flow saw {SEEN[0]} of {done + WARMUP} events")
    report(done, seconds, len(REPLIES), done + WARMUP)


if __name__ == "__main__":
    main()
