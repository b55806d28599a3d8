"""botrt: ``ask`` -> answer round trips beside plain commands on one host; memory per waiting ask.

An inner measure, at the dispatch benchmark's seam: pre-built botrt
`TextEvent`s (no VK parsing), a reply is a counter and an event set (no API
client). One started `Host` (SQLite in memory, metrics on) loads one plugin
folder holding the 50 commands of workload (b) and a ``/chat`` command whose
handler asks forever: ``answer = await ask(answer.text)``, so every answer is
one event in and one reply out, as a command is. Every event goes through the
real intake, ``await host.submit(event)`` with `Host.serve` running (the queue,
the conversation's lane; an answer is routed to its waiting ask), and the
driver waits for its reply.

Variants (``--variant``), each over ``--users N`` users (event i comes from
user ``i % N``; the users' conversations are opened before timing):

- ``command``: event i is ``/cmdKK`` (`_workload.text`); the reply is ``cmdKK``.
- ``ask``: every user first sends ``/chat`` (untimed: N asks wait); event i
  is the answer ``a<i % 50>``, and the reply is the next question, the same text.
- ``memory``: no timing. N users send ``/chat``; once every ask waits, the
  memory traced by `tracemalloc` that N waiting asks hold is divided by N,
  with the N command events excluded (they are the platform's input) and
  included; also the tasks alive, the process's RSS growth, and the ask
  registry's size.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import logging
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
if "--runtime" in sys.argv:  # another botrt's runtime/ (a before-and-after run)
    sys.path.insert(0, sys.argv[sys.argv.index("--runtime") + 1])

from _workload import COMMANDS, CPU_SECONDS, drive, report, rss_mib, text
from botrt_dispatch import BOT_TOML, plugin_source

from botrt.adapter import TextEvent
from botrt.config import load_config
from botrt.host import Host

CHAT = """

from botrt.handle import ask


@PLUGIN.use
@on_command("chat")
async def chat(event: TextEvent) -> None:
    answer = await ask("go")
    while True:
        answer = await ask(answer.text)
"""


class ConvEvent(TextEvent):
    """A text message from one user; its replies are counted and the last one kept."""

    __slots__ = ("done", "got")

    def __init__(self, text: str, user: int) -> None:
        super().__init__(text, user_id=user, platform="memory", bot="memory")
        self.done: anyio.Event | None = anyio.Event()
        self.got = ""

    async def reply(self, text: str, **options: Any) -> None:
        self.got = text
        if self.done is not None:
            self.done.set()


async def submit(host: Host, event: ConvEvent, *, drop_signal: bool = True) -> None:
    """Submit `event` as an adapter does, and wait for its reply.

    The harness's own signal (`done`) is then dropped: a run that keeps its
    answer (the ask variant's handler keeps ``answer`` until the next one) must
    not keep the driver's Event objects alive too, which the garbage collector
    would walk. The memory variant keeps it: its events are counted before.
    """
    await host.submit(event)
    await event.done.wait()  # type: ignore[union-attr]
    if drop_signal:
        event.done = None


def make_host(root: Path) -> Host:
    (root / "plugins" / "bench").mkdir(parents=True)
    (root / "plugins" / "bench" / "__plugin__.py").write_text(
        plugin_source("b") + CHAT, encoding="utf-8"
    )
    (root / "bot.toml").write_text(BOT_TOML, encoding="utf-8")
    config = load_config(root / "bot.toml")
    if "metrics" in inspect.signature(Host).parameters:
        return Host(config, entry_points=False, metrics=True)
    return Host(config, entry_points=False)


async def open_chats(host: Host, users: int) -> None:
    """Every user sends ``/chat``; returns once each of their asks waits."""
    for user in range(users):
        event = ConvEvent("/chat", user + 1)
        await submit(host, event)
        if event.got != "go":
            raise SystemExit(f"user {user + 1}: /chat answered {event.got!r}")


async def timed(
    variant: str, users: int, seconds: float, events: int | None = None
) -> tuple[int, float, int]:
    """Time `variant` for `seconds`; returns (events, seconds, wrong replies)."""
    wrong = [0]
    with tempfile.TemporaryDirectory() as tmp:
        host = make_host(Path(tmp))
        if await host.start():
            raise SystemExit("the bench plugin was refused")
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: host.serve(signals=False))
                # The texts repeat every COMMANDS events, built once: making an event costs
                # the same in both variants (callgrind counts `make` too).
                if variant == "ask":
                    await open_chats(host, users)
                    texts = [(f"a{i}", f"a{i}") for i in range(COMMANDS)]
                else:
                    texts = [(text(i), text(i)[1:]) for i in range(COMMANDS)]

                def make(start: int, count: int) -> list[tuple[ConvEvent, str]]:
                    return [
                        (ConvEvent(texts[i % COMMANDS][0], i % users + 1), texts[i % COMMANDS][1])
                        for i in range(start, start + count)
                    ]

                async def step(item: tuple[ConvEvent, str]) -> None:
                    event, expected = item
                    await submit(host, event)
                    if event.got != expected:
                        wrong[0] += 1

                done, took = await drive(make, step, seconds=seconds, events=events)
                host.request_stop()
        finally:
            await host.stop()
    return done, took, wrong[0]


async def memory(users: int) -> dict[str, Any]:
    """What `users` waiting asks hold, per ask."""
    with tempfile.TemporaryDirectory() as tmp:
        host = make_host(Path(tmp))
        if await host.start():
            raise SystemExit("the bench plugin was refused")
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(lambda: host.serve(signals=False))
                await open_chats(host, 10)  # warm: code paths, lazily built tables
                gc.collect()
                tracemalloc.start()
                rss0 = rss_mib()
                before_events = tracemalloc.get_traced_memory()[0]
                events = [ConvEvent("/chat", 1_000 + u) for u in range(users)]
                gc.collect()
                before = tracemalloc.get_traced_memory()[0]
                for event in events:
                    await submit(host, event, drop_signal=False)
                gc.collect()
                after = tracemalloc.get_traced_memory()[0]
                rss1 = rss_mib()
                tasks = len(asyncio.all_tasks())
                waiting = len(host.dispatcher.dialogues.waiting)
                tracemalloc.stop()
                if any(e.got != "go" for e in events) or waiting < users:
                    raise SystemExit(f"only {waiting} of {users} asks wait")
                host.request_stop()
        finally:
            await host.stop()
    return {
        "users": users,
        "bytes_per_ask": (after - before) / users,
        "bytes_per_ask_with_event": (after - before_events) / users,
        "rss_mib_growth": rss1 - rss0,
        "tasks_alive": tasks,
        "asks_waiting": waiting,
    }


def main() -> None:
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--variant", choices=("command", "ask", "memory"), default="ask")
    p.add_argument("--users", type=int, default=1)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--events", type=int, help="time exactly this many events (callgrind)")
    p.add_argument("--runtime", help="import botrt from this runtime/ directory")
    args = p.parse_args()
    logging.disable(logging.WARNING)  # the queue's "no adapter" warning
    if args.variant == "memory":
        print(json.dumps(anyio.run(memory, args.users)), flush=True)
        return
    done, seconds, wrong = anyio.run(timed, args.variant, args.users, args.seconds, args.events)
    if wrong:
        raise SystemExit(f"{wrong} of {done} replies were not the expected text")
    report(done, seconds, done, done, users=args.users, cpu_s=CPU_SECONDS[0])


if __name__ == "__main__":
    main()
