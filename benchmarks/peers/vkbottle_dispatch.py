"""vkbottle 4.11.0 on the dispatch workload (run with the vkbottle venv's python).

Entry point: ``await bot.process_event(update)``, the call ``Bot.run_polling``
makes for every update of a Long Poll answer (``vkbottle/framework/base.py``),
here awaited in place instead of in a task of its own, so each event is fully
handled before the next. Updates are ``message_new`` dicts shaped like VK's
(API 5.199, from ``shared/vk-payloads``), built in advance.

Seam stubbed: the HTTP client. An ``ABCHTTPClient`` subclass passed as
``API(token, http_client=...)`` (as vkbottle's own tests do) answers every
request with ``{"response": 1}``; a handler's ``message.answer("ok")`` runs
vkbottle's whole API path (request validators, token generator, response
validators) down to that stub.

Handlers are ``@bot.on.message(text="/cmdNN")``, the rule vkbottle's README
shows. vkbottle has no flow DAGs (workload a) and no priorities: handlers are
tried in registration order, so (c) registers the commands tier by tier,
highest first, which is what a priority order means there.
"""

import asyncio
import copy
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _workload import COMMANDS, TIERS, command, drive, parse_args, report, texts, tier
from vkbottle import API, Bot
from vkbottle.bot import Message
from vkbottle.http import ABCHTTPClient

REPLIES: list[str] = []

UPDATE: dict[str, Any] = {
    "type": "message_new",
    "object": {
        "message": {
            "date": 1612685621,
            "from_id": 326596496,
            "id": 9,
            "out": 0,
            "peer_id": 326596496,
            "text": "",
            "conversation_message_id": 9,
            "fwd_messages": [],
            "important": False,
            "random_id": 0,
            "attachments": [],
            "is_hidden": False,
            "version": 10000001,  # sent by VK today; vkbottle_types requires it
        },
        "client_info": {
            "button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback"],
            "keyboard": True,
            "inline_keyboard": True,
            "carousel": True,
            "lang_id": 0,
        },
    },
    "group_id": 202308925,
    "event_id": "",
}


SENT = '{"response": [{"peer_id": PEER, "message_id": 1, "conversation_message_id": 1}]}'


class StubHTTP(ABCHTTPClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    async def request_raw(self, url: str, method: str = "GET", data: Any = None, **kw: Any) -> Any:
        return None

    async def request_text(self, url: str, method: str = "GET", data: Any = None, **kw: Any) -> str:
        if url.endswith("messages.send"):
            data = data or {}
            REPLIES.append(str(data.get("message")))
            if "peer_ids" in data:  # what Message.answer sends: VK answers one item per peer
                peer = int(str(data["peer_ids"]).split(",")[0])
                return SENT.replace("PEER", str(peer))
        return '{"response": 1}'

    async def request_json(self, url: str, method: str = "GET", data: Any = None, **kw: Any) -> Any:
        return {"response": 1}

    async def request_content(
        self, url: str, method: str = "GET", data: Any = None, **kw: Any
    ) -> bytes:
        return b'{"response": 1}'

    async def close(self) -> None:
        pass


def update(i: int, text: str) -> dict[str, Any]:
    u = copy.deepcopy(UPDATE)
    u["object"]["message"]["text"] = text
    u["object"]["message"]["id"] = u["object"]["message"]["conversation_message_id"] = i + 1
    u["event_id"] = f"{i:040x}"
    return u


def main() -> None:
    args = parse_args()
    if args.workload == "a":
        raise SystemExit("vkbottle has no flow DAGs: workload (a) does not apply")
    bot = Bot(api=API("stub-token", http_client=StubHTTP()))
    order = list(range(COMMANDS))
    if args.workload == "c":
        order.sort(key=lambda k: TIERS - tier(k))

    for k in order:

        async def handler(message: Message) -> None:
            await message.answer("ok")

        handler.__name__ = command(k)
        bot.on.message(text=f"/{command(k)}")(handler)

    events = [update(i, t) for i, t in enumerate(texts(args.events))]
    seconds = asyncio.run(drive(events, bot.process_event))
    report(seconds, args.events, len(REPLIES), len(events))


if __name__ == "__main__":
    main()
