"""botrt on the dispatch workload (pre-built events, an in-memory reply), in one of three ways.

An inner measure of botrt's own machinery, not a peer comparison: the events
are built as botrt events (no VK parsing) and a reply is one list append (no
API client). The like-for-like comparison is ``botrt_vk.py``.

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

import asyncio
import inspect
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _workload import CATCH_ALL, COMMANDS, WARMUP, command, drive, parse_args, report, text, tier

from botrt.adapter import TextEvent
from botrt.config import load_config
from botrt.handle import Dispatcher
from botrt.host import Host

REPLIES: list[str] = []
SEEN: list[int] = [0]  # what workload (c)'s catch-all flow counted


def _plugin_seen() -> list[int]:
    for name, module in list(sys.modules.items()):
        if name.endswith(".__plugin__") and hasattr(module, "SEEN"):
            return list(module.SEEN)
    return [-1]


class BenchEvent(TextEvent):
    """A text message whose replies go into `REPLIES` (the in-memory stub)."""

    __slots__ = ("done",)

    def __init__(self, text: str) -> None:
        super().__init__(text, user_id=1, platform="memory", bot="memory")
        # Set by the queue variant: resolved by the reply (a bare future, as the VK
        # driver's; an anyio.Event cost the harness about 20,000 instructions an event).
        self.done: asyncio.Future[None] | None = None

    async def reply(self, text: str, **options: Any) -> None:
        REPLIES.append(text)
        if self.done is not None:
            self.done.set_result(None)


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
    body = [
        head,
        "from botrt.handle import on_text\n\nPLUGIN = PluginPlanner('1.0.0')\nSEEN = [0]\n",
    ]
    for k in range(COMMANDS):
        priority = tier(k) if workload == "c" else 0
        body.append(
            f"\n\n@PLUGIN.use\n@on_command({command(k)!r}, priority={priority})\n"
            f"async def {command(k)}(event: TextEvent) -> None:\n"
            f"    await event.reply({command(k)!r})\n"
        )
    if workload == "c":  # a catch-all above the commands: every event walks the tiers
        body.append(
            f"\n\n@PLUGIN.use\n@on_text(priority={CATCH_ALL})\n"
            "async def seen(event: TextEvent) -> None:\n    SEEN[0] += 1\n"
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


def make(start: int, count: int) -> list[BenchEvent]:
    """Events ``start .. start + count - 1``."""
    return [BenchEvent(text(i)) for i in range(start, start + count)]


def expected_reply(workload: str, i: int) -> str:
    """What event i must be answered."""
    return "ok" if workload == "a" else text(i).lstrip("/")


async def run(workload: str, variant: str, seconds: float, events: int | None) -> tuple[int, float]:
    source = plugin_source(workload)
    if variant == "dispatcher":
        namespace: dict[str, Any] = {}
        exec(compile(source, "bench_plugin", "exec"), namespace)
        dispatcher = Dispatcher(namespace["PLUGIN"].flows, prefixes=("/", "."))
        timed = await drive(make, dispatcher.dispatch, seconds=seconds, events=events)
        SEEN[:] = namespace.get("SEEN", [-1])
        return timed
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
                timed = await drive(make, host.handle, seconds=seconds, events=events)
                SEEN[:] = _plugin_seen()
                return timed

            loop = asyncio.get_running_loop()

            async def submit(e: BenchEvent) -> None:
                e.done = done = loop.create_future()
                await host.submit(e)
                await done

            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: host.serve(signals=False))
                timed = await drive(make, submit, seconds=seconds, events=events)
                host.request_stop()
            SEEN[:] = _plugin_seen()
            return timed
        finally:
            await host.stop()


def main() -> None:
    args = parse_args(("host", "queue", "dispatcher"))
    logging.disable(logging.WARNING)  # the queue variant's "no adapter" warning
    done, seconds = anyio.run(run, args.workload, args.variant, args.seconds, args.events)
    for i, got in enumerate(REPLIES):
        if got != expected_reply(args.workload, i):
            raise SystemExit(
                f"reply {i}: expected {expected_reply(args.workload, i)!r}, got {got!r}"
            )
    if args.workload == "c" and SEEN[0] != len(REPLIES):
        raise SystemExit(f"the catch-all flow saw {SEEN[0]} of {len(REPLIES)} events")
    report(done, seconds, len(REPLIES), done + WARMUP)


if __name__ == "__main__":
    main()
