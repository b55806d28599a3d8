"""botrt on the like-for-like VK workload (``_vk.py``), run with botrt's python.

A started `Host` configured as a VK bot would be: a ``[[bots]]`` entry (VK,
Long Poll), so the VK hooks register the bot's `VkApi`, its outbound, and the
member-tracking middleware that runs for every event; SQLite in memory (the
member list needs storage); metrics on, as with ``[server]``. The workload's
commands are a real plugin folder.

Per update, as the Long Poll adapter's sink does (``VkLongPollAdapter.run``):
``parse_update(update, bot=..., api=...)`` and then

- ``queue`` (the figure compared with the peers): ``await host.submit(event)``
  with `Host.serve` running (the bounded queue, the conversation's lane task),
  then wait until the reply reached the HTTP session;
- ``handle`` (an inner measure, labelled so): ``await host.handle(event)``,
  no queue and no task.

Parts of the path, for callgrind's shares of it (no figure is compared with a
peer): ``noop`` (the harness only: updates made, fed, checked; each answered
by writing its reply to the stub directly), ``parse`` (``parse_update``, then
as ``noop``), ``received`` (``parse`` plus the VK middleware, the
``botrt_event_received`` hook, as `Host.handle` calls it) and ``reply``
(``parse``, then ``event.reply`` through `VkApi` to the stub, no host).

Seam stubbed: the HTTP session. ``aiohttp.ClientSession`` is replaced by
`_vk.StubSession` before the host starts, so `VkApi.http_session` makes the
stub: a reply runs `MessageNew.reply` → `VkApi.call` → the rate limiter →
``post_form`` (form, token, JSON decoding) down to ``session.post``. The Long
Poll adapter runs too and waits on the stub for updates that never come. The
bot's ``rate_limit`` is set out of the way (10⁹/s): it would hold replies to
VK's 20/s, and the peers' limiters are off as well.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _speed import loop_options
from _vk import StubSession, check_replies, reply_text, update
from _workload import CATCH_ALL, command, drive, parse_args, report, text, tier

from botrt.config import load_config
from botrt.host import Host
from botrt.protocols.vk import parse_update

BOT = "bench"


def plugin_source(workload: str, commands: int) -> str:
    """The ``__plugin__.py`` a user would write: `commands` commands, each replying its name."""
    body = [
        "from botrt import PluginPlanner\n"
        "from botrt.adapter import TextEvent\n"
        "from botrt.handle import on_command, on_text\n\n"
        "PLUGIN = PluginPlanner('1.0.0')\n"
        "SEEN = [0]\n"
    ]
    for k in range(commands):
        priority = tier(k) if workload == "c" else 0
        body.append(
            f"\n\n@PLUGIN.use\n@on_command({command(k)!r}, priority={priority})\n"
            f"async def {command(k)}(event: TextEvent) -> None:\n"
            f"    await event.reply({command(k)!r})\n"
        )
    if workload == "c":
        body.append(
            f"\n\n@PLUGIN.use\n@on_text(priority={CATCH_ALL})\n"
            "async def seen(event: TextEvent) -> None:\n"
            "    SEEN[0] += 1\n"
        )
    return "".join(body)


BOT_TOML = f"""
[plugins]
dirs = ["plugins"]
builtin = false
reload = false
[console]
enabled = false
[server]
enabled = false
[storage]
url = "sqlite:///:memory:"
[[bots]]
name = "{BOT}"
platform = "vk"
transport = "longpoll"
token = "stub-token"
group_id = 202308925
rate_limit = 1000000000
"""


async def run(
    workload: str, variant: str, commands: int, seconds: float, events: int | None
) -> tuple[int, float, int]:
    session = StubSession()
    # The seam: every aiohttp session botrt makes (VkApi's, shared by Long Poll) is the stub.
    aiohttp.ClientSession = lambda *a, **kw: session  # type: ignore[assignment,misc]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "plugins" / "bench").mkdir(parents=True)
        (root / "plugins" / "bench" / "__plugin__.py").write_text(
            plugin_source(workload, commands), encoding="utf-8"
        )
        (root / "bot.toml").write_text(BOT_TOML, encoding="utf-8")
        host = Host(load_config(root / "bot.toml"), metrics=True)
        issues = await host.start()
        if issues:
            raise SystemExit(f"plugin refused: {issues}")
        api = host.outbound[BOT].api  # type: ignore[attr-defined]  # the bot's VkApi
        if host.pm.get_plugin("botrt-vk-members") is None:
            raise SystemExit("the VK member-tracking middleware is not registered")
        texts: list[str] = []

        def make(start: int, count: int) -> list[dict[str, Any]]:
            made = [update(i, text(i, commands)) for i in range(start, start + count)]
            texts.extend(text(i, commands) for i in range(start, start + count))
            return made

        try:
            if variant == "handle":

                async def handle(u: dict[str, Any]) -> None:
                    await host.handle(parse_update(u, bot=BOT, api=api))

                done, wall = await drive(make, handle, seconds=seconds, events=events)
            elif variant in PARTS:
                done, wall = await drive(
                    make, _part(variant, host, api, session), seconds=seconds, events=events
                )
            else:
                loop = asyncio.get_running_loop()
                pending: list[asyncio.Future[None]] = []

                def replied() -> None:
                    pending.pop().set_result(None)

                session.on_reply = replied

                async def submit(u: dict[str, Any]) -> None:
                    fut = loop.create_future()
                    pending.append(fut)
                    await host.submit(parse_update(u, bot=BOT, api=api))
                    await fut

                async with anyio.create_task_group() as tg:
                    tg.start_soon(lambda: host.serve(signals=False))
                    done, wall = await drive(make, submit, seconds=seconds, events=events)
                    host.request_stop()
            check_replies(session.replies, texts)
            seen = _seen()
            if workload == "c" and seen != len(texts):
                raise SystemExit(f"the catch-all flow saw {seen} of {len(texts)} events")
            return done, wall, len(session.replies)
        finally:
            await host.stop()


PARTS = ("noop", "parse", "received", "reply")


def _part(
    variant: str, host: Host, api: Any, session: StubSession
) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """The step of a ``PARTS`` variant: one part of the path per update (see the module)."""
    replies = session.replies

    async def noop(u: dict[str, Any]) -> None:
        # What the handler's reply leaves at the stub, without the path to it.
        body = u["object"]["message"]
        replies.append((body["peer_id"], reply_text(body["text"])))

    async def parse(u: dict[str, Any]) -> None:
        event = parse_update(u, bot=BOT, api=api)
        replies.append((event.peer_id, reply_text(event.text)))  # type: ignore[attr-defined]

    async def received(u: dict[str, Any]) -> None:
        event = parse_update(u, bot=BOT, api=api)
        for verdict in host._received_hook(host=host, event=event):
            await verdict
        pending = event._typing  # type: ignore[attr-defined]  # as the reply would
        if pending is not None:
            event._typing = None  # type: ignore[attr-defined]
            pending.cancel()
        replies.append((event.peer_id, reply_text(event.text)))  # type: ignore[attr-defined]

    async def reply(u: dict[str, Any]) -> None:
        event = parse_update(u, bot=BOT, api=api)
        await event.reply(reply_text(event.text))  # type: ignore[attr-defined]

    return {"noop": noop, "parse": parse, "received": received, "reply": reply}[variant]


def _seen() -> int:
    """How many events the catch-all flow of workload (c) counted (-1: no such flow)."""
    for name, module in list(sys.modules.items()):
        if name.endswith(".__plugin__") and hasattr(module, "SEEN"):
            return int(module.SEEN[0])
    return -1


def main() -> None:
    options = loop_options()  # uvloop and orjson when installed, unless --pure
    args = parse_args(("queue", "handle", *PARTS))
    if args.workload == "a":
        raise SystemExit("the VK workload has (b) and (c) only: the peers have no flow DAGs")
    logging.disable(logging.WARNING)
    done, wall, replies = anyio.run(
        run,
        args.workload,
        args.variant,
        args.commands,
        args.seconds,
        args.events,
        backend_options=options,
    )
    report(done, wall, replies, replies)


if __name__ == "__main__":
    main()
