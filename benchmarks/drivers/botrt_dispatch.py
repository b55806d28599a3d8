"""botrt on the dispatch workload, in one of three ways.

- ``host`` (the figure that counts): a started `Host` (no console, SQLite in
  memory, metrics on as with ``[server]``: every event is counted for
  ``/metrics``) that loaded the workload's commands as a real plugin folder; each
  event goes through ``await host.handle(event)``, which is what every adapter's
  event reaches after the queue (middleware check, reload epoch, dispatch,
  injection, the reply).
- ``queue``: the same host while `Host.serve` runs; each event is submitted as
  an adapter does (``await host.submit(event)``: the bounded queue, the
  per-conversation lane task) and the driver waits for its reply. This is the
  path melobot's figure takes through its own channel queue.
- ``dispatcher``: a bare `Dispatcher` over the same flows
  (``await dispatcher.dispatch(event)``): the flow machinery alone.
"""

from __future__ import annotations

import inspect
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _workload import COMMANDS, command, drive, parse_args, report, texts, tier

from botrt.adapter import TextEvent
from botrt.config import load_config
from botrt.handle import Dispatcher
from botrt.host import Host

REPLIES: list[str] = []


class BenchEvent(TextEvent):
    """A text message whose replies go into `REPLIES` (the in-memory stub)."""

    __slots__ = ("done",)

    def __init__(self, text: str) -> None:
        super().__init__(text, user_id=1, platform="memory", bot="memory")
        self.done: anyio.Event | None = None

    async def reply(self, text: str, **options: Any) -> None:
        REPLIES.append(text)
        if self.done is not None:
            self.done.set()


def plugin_source(workload: str) -> str:
    """The ``__plugin__.py`` a user would write for the workload."""
    head = (
        "from botrt import PluginPlanner\n"
        "from botrt.adapter import TextEvent\n"
        "from botrt.handle import Flow, node, on_command\n\n"
    )
    if workload == "a":
        nodes = ["@node\nasync def n1(event: TextEvent) -> None:\n    await event.reply('ok')\n"]
        nodes += [
            f"@node\nasync def n{i}(event: TextEvent) -> None:\n    return None\n"
            for i in range(2, 8)
        ]
        flow = "Flow('seed', [[n1, n2], n3, n4, [n5, n6], n7])"
        return head + "\n\n".join(nodes) + f"\n\nPLUGIN = PluginPlanner('1.0.0', flows=[{flow}])\n"
    body = [head, "PLUGIN = PluginPlanner('1.0.0')\n"]
    for k in range(COMMANDS):
        priority = tier(k) if workload == "c" else 0
        body.append(
            f"\n\n@PLUGIN.use\n@on_command({command(k)!r}, priority={priority})\n"
            f"async def {command(k)}(event: TextEvent) -> None:\n    await event.reply('ok')\n"
        )
    return "".join(body)


BOT_TOML = """
[plugins]
dirs = ["plugins"]
builtin = false
reload = false
[console]
enabled = false
[storage]
url = "sqlite:///:memory:"
"""


async def run(workload: str, variant: str, events: list[BenchEvent]) -> float:
    source = plugin_source(workload)
    if variant == "dispatcher":
        namespace: dict[str, Any] = {}
        exec(compile(source, "bench_plugin", "exec"), namespace)
        dispatcher = Dispatcher(namespace["PLUGIN"].flows, prefixes=("/", "."))
        return await drive(events, dispatcher.dispatch)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "plugins" / "bench").mkdir(parents=True)
        (root / "plugins" / "bench" / "__plugin__.py").write_text(source, encoding="utf-8")
        (root / "bot.toml").write_text(BOT_TOML, encoding="utf-8")
        config = load_config(root / "bot.toml")
        if "metrics" in inspect.signature(Host).parameters:
            # Metrics on, as a host with [server] has them (this one opens no port).
            host = Host(config, entry_points=False, metrics=True)
        else:  # an older runtime/ under dispatch_ab.py --before: metrics were always on
            host = Host(config, entry_points=False)
        issues = await host.start()
        if issues:
            raise SystemExit(f"plugin refused: {issues}")
        try:
            if variant == "host":
                return await drive(events, host.handle)

            async def submit(e: BenchEvent) -> None:
                e.done = anyio.Event()
                await host.submit(e)
                await e.done.wait()

            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: host.serve(signals=False))
                seconds = await drive(events, submit)
                host.request_stop()
            return seconds
        finally:
            await host.stop()


def main() -> None:
    args = parse_args(("host", "queue", "dispatcher"))
    logging.disable(logging.WARNING)  # the queue variant's "no adapter" warning
    events = [BenchEvent(t) for t in texts(args.events)]
    seconds = anyio.run(run, args.workload, args.variant, events)
    report(seconds, args.events, len(REPLIES), len(events))


if __name__ == "__main__":
    main()
