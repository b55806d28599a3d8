"""vkbottle 4.11.0 on the like-for-like VK workload (``_vk.py``), with the vkbottle venv's python.

Intake, per update: ``asyncio.create_task(bot.process_event(update))``, what
``Bot.run_polling`` does for every update of a Long Poll answer
(``vkbottle/framework/base.py``); the driver then waits until the reply
reached the HTTP session, so each update is handled before the next.

Seam stubbed: the HTTP session. vkbottle's own ``AiohttpClient`` gets
`_vk.StubSession` as its ``aiohttp.ClientSession`` (``AiohttpClient(session=...)``
under ``API(token, http_client=...)``), so ``message.answer`` runs vkbottle's
whole API path (request validators, token generator, its HTTP client,
response validators) down to ``session.request``.

Handlers are ``@bot.on.message(text="/cmdNN")``, as vkbottle's README shows,
each answering ``cmdNN``. vkbottle has no priorities: handlers are tried in
registration order and the first match ends the search, so (c) registers the
commands tier by tier, highest first, behind a catch-all
``bot.on.message(blocking=False)`` handler that counts every message and
lets the search go on.
"""

import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _vk import TOKEN, StubSession, check_replies, update
from _workload import TIERS, command, drive, parse_args, report, text, tier
from vkbottle import API, AiohttpClient, Bot
from vkbottle.bot import Message


async def run(
    workload: str, commands: int, seconds: float, events: int | None
) -> tuple[int, float, int]:
    session = StubSession()
    bot = Bot(api=API(TOKEN, http_client=AiohttpClient(session=session)))  # type: ignore[arg-type]
    seen = [0]
    if workload == "c":

        @bot.on.message(blocking=False)
        async def catch_all(message: Message) -> None:
            seen[0] += 1

    order = list(range(commands))
    if workload == "c":
        order.sort(key=lambda k: TIERS - tier(k))
    for k in order:

        def made(name: str) -> Any:
            async def handler(message: Message) -> None:
                await message.answer(name)

            handler.__name__ = name
            return handler

        bot.on.message(text=f"/{command(k)}")(made(command(k)))

    loop = asyncio.get_running_loop()
    pending: list[asyncio.Future[None]] = []
    session.on_reply = lambda: pending.pop().set_result(None)
    tasks: set[asyncio.Task[None]] = set()
    texts: list[str] = []

    def make(start: int, count: int) -> list[dict[str, Any]]:
        texts.extend(text(i, commands) for i in range(start, start + count))
        return [update(i, text(i, commands)) for i in range(start, start + count)]

    async def step(u: dict[str, Any]) -> None:
        fut = loop.create_future()
        pending.append(fut)
        task = asyncio.create_task(bot.process_event(u))  # as run_polling does
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        await fut

    done, wall = await drive(make, step, seconds=seconds, events=events)
    await asyncio.gather(*tasks)
    check_replies(session.replies, texts)
    if workload == "c" and seen[0] != len(texts):
        raise SystemExit(f"the catch-all handler saw {seen[0]} of {len(texts)} events")
    return done, wall, len(session.replies)


def main() -> None:
    args = parse_args()
    if args.workload == "a":
        raise SystemExit("vkbottle has no flow DAGs: workload (a) does not apply")
    done, wall, replies = asyncio.run(run(args.workload, args.commands, args.seconds, args.events))
    report(done, wall, replies, replies)


if __name__ == "__main__":
    main()
