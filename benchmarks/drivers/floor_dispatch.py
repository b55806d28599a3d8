"""The floor: a bare asyncio loop doing the least work the workload needs.

(a) awaits the seven node functions along the DAG's four paths (14 calls,
from a list made in advance); (b) looks the first word up in a dict and
awaits the handler; (c) counts the event (the catch-all), then tries five
such dicts, highest priority first.
No framework: what is left is the cost of a coroutine call and a reply.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _workload import COMMANDS, TIERS, WARMUP, command, drive, parse_args, report, text, tier


class Event:
    __slots__ = ("text", "user_id")

    def __init__(self, text: str) -> None:
        self.text = text
        self.user_id = 1


REPLIES: list[str] = []
SEEN = [0]

Handler = Callable[[Event], Awaitable[None]]


async def reply(e: Event) -> None:
    REPLIES.append("ok")


async def seen(e: Event) -> None:
    SEEN[0] += 1


async def noop(e: Event) -> None:
    return None


def main() -> None:
    args = parse_args()
    step: Callable[[Event], Awaitable[None]]
    if args.workload == "a":
        # n1 replies; traversal order of [[n1, n2], n3, n4, [n5, n6], n7]:
        # n1 n3 n4 n5 n7 n6 n7, then n2 n3 n4 n5 n7 n6 n7.
        path: list[Handler] = [reply] + [noop] * 6 + [noop] * 7

        async def step(e: Event) -> None:
            for fn in path:
                await fn(e)

    elif args.workload == "b":
        table: dict[str, Handler] = {f"/{command(k)}": reply for k in range(COMMANDS)}

        async def step(e: Event) -> None:
            parts = e.text.split(None, 1)
            handler = table.get(parts[0].lower() if parts else "")
            if handler is not None:
                await handler(e)

    else:
        tiers: list[dict[str, Handler]] = [{} for _ in range(TIERS)]
        for k in range(COMMANDS):
            tiers[TIERS - 1 - tier(k)][f"/{command(k)}"] = reply

        async def step(e: Event) -> None:
            await seen(e)
            parts = e.text.split(None, 1)
            word = parts[0].lower() if parts else ""
            for table in tiers:
                handler = table.get(word)
                if handler is not None:
                    await handler(e)

    def make(start: int, count: int) -> list[Event]:
        return [Event(text(i)) for i in range(start, start + count)]

    done, seconds = asyncio.run(drive(make, step, seconds=args.seconds, events=args.events))
    report(done, seconds, len(REPLIES), done + WARMUP)


if __name__ == "__main__":
    main()
