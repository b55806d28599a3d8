"""vkflow 1.2.0 on the like-for-like VK workload (``_vk.py``), with the vkflow venv's python.

Intake, per update: ``asyncio.create_task(bot.handle_event(NewEvent(event=GroupEvent(update),
bot=bot)))``, what ``Bot.run_polling`` does for every update its Long Poll
yields (``vkflow/app/bot.py``), with vkflow's own tasks inside
(``wrap_to_task=True``, the default); the driver then waits until the reply
reached the HTTP session, so each update is handled before the next.

Seam stubbed: the HTTP session. `_vk.StubSession` is passed as
``API(token, requests_session=...)``, so a command's reply runs vkflow's
whole API path (parameters, its JSON parser, error checks) down to
``session.post``. vkflow's client-side pause between requests (1/20 s for a
community token) is set to 0, as botrt's rate limit is set out of the way;
its loguru logger is disabled (it prints every event and API call at INFO to
standard output by default): its best case.

Commands are ``@app.command("cmdNN")`` with prefix ``/``, returning ``cmdNN``
(vkflow sends what a command returns). vkflow has no priorities; (c) adds a
catch-all ``app.on_message()`` handler that counts every message.
"""

import asyncio
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vkflow
from _vk import GROUP_ID, TOKEN, StubSession, check_replies, update
from _workload import TIERS, command, drive, parse_args, report, text, tier
from loguru import logger
from vkflow.app.storages import NewEvent
from vkflow.event import GroupEvent
from vkflow.longpoll import GroupLongPoll

logger.disable("vkflow")


async def run(
    workload: str, commands: int, seconds: float, events: int | None
) -> tuple[int, float, int]:
    session = StubSession()
    api = vkflow.API(TOKEN, token_owner=vkflow.TokenOwner.GROUP, requests_session=session)  # type: ignore[arg-type]
    api._requests_delay = 0  # vkflow's client-side limiter, off
    app = vkflow.App(prefixes=["/"])
    seen = [0]
    if workload == "c":

        @app.on_message()
        async def catch_all(*args: Any, **kwargs: Any) -> None:
            seen[0] += 1

    order = list(range(commands))
    if workload == "c":
        order.sort(key=lambda k: TIERS - tier(k))
    for k in order:

        def made(name: str) -> Any:
            async def handler() -> str:
                return name

            handler.__name__ = name
            return handler

        app.command(command(k))(made(command(k)))

    bot = vkflow.Bot(app=app, api=api, events_factory=GroupLongPoll(api, group_id=GROUP_ID))
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
        task = asyncio.create_task(bot.handle_event(NewEvent(event=GroupEvent(u), bot=bot)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        await fut

    done, wall = await drive(make, step, seconds=seconds, events=events)
    await asyncio.gather(*tasks)
    while bot._background_tasks:  # vkflow's own tasks (the catch-all's) end after the reply
        await asyncio.gather(*bot._background_tasks)
    check_replies(session.replies, texts)
    if workload == "c" and seen[0] != len(texts):
        raise SystemExit(f"the catch-all handler saw {seen[0]} of {len(texts)} events")
    return done, wall, len(session.replies)


def main() -> None:
    args = parse_args()
    if args.workload == "a":
        raise SystemExit("vkflow has no flow DAGs: workload (a) does not apply")
    done, wall, replies = asyncio.run(run(args.workload, args.commands, args.seconds, args.events))
    report(done, wall, replies, replies)


if __name__ == "__main__":
    main()
