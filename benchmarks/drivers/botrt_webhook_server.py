"""botrt's Callback API server for the webhook benchmark: a real `Host` serving one VK
callback bot on loopback, with the 50-command plugin of the dispatch benchmark.

The host is built from a ``bot.toml`` as ``botrt serve`` builds it (entry points,
so the VK adapter hook adds the bot's callback route to the host's aiohttp
server on ``[server]``); every request goes through aiohttp, the route's checks
(JSON, group, secret, duplicate ``event_id``), the ``ok`` answer, then in the
background parsing into a ``MessageNew``, the host's queue and lanes, the
command's flow, and ``event.reply`` → ``VkApi.messages.send``. The only stub is
under ``VkApi``: its aiohttp session is replaced by an in-memory one that answers
``{"response": 1}`` (no request leaves the process), and the rate limit is set
high so replies are not paced at VK's 20/s.

With ``--no-plugin`` no flow is loaded: updates are still parsed, queued and
dispatched, but nothing matches and nothing replies (the intake alone). With
``--no-inbox`` the host gets no inbox (the VK hook's ``_inbox`` is replaced
here): no durable write before ``ok``, and duplicates recognised in memory only,
as before the inbox existed (the cost of issue 16's durable write). With
``--drop`` the callback route's sink only counts the updates it is handed (no
parsing, queue or reply; counted as replies): what a request costs up to ``ok``
and the hand-over, for the instruction profile of ``webhook_instructions.py``.

Prints ``READY <port>`` once listening, then ``{"replies": N}`` every 0.2 s;
stops on SIGTERM.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _speed import loop_options
from botrt_dispatch import plugin_source

from botrt.config import load_config
from botrt.host import Host

BOT_TOML = """
[plugins]
dirs = ["plugins"]
builtin = false
reload = false
[console]
enabled = false
[storage]
url = "sqlite:///:memory:"
[server]
host = "127.0.0.1"
port = 0
[[bots]]
name = "bench"
platform = "vk"
token = "stub-token"
group_id = 1
transport = "callback"
path = "/vk/bench"
secret = "s3cret"
confirmation = "c0nfirm"
rate_limit = 1000000
"""


class StubResponse:
    status = 200

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def read(self) -> bytes:
        return self._body

    async def __aenter__(self) -> StubResponse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class StubSession:
    """Stands in for the `aiohttp.ClientSession` under `VkApi`: VK's answers, in memory."""

    def __init__(self) -> None:
        self.sent = 0

    def post(self, url: str, data: Any = None, **kwargs: Any) -> StubResponse:
        if url.endswith("/messages.send"):
            self.sent += 1
            return StubResponse(b'{"response": 1}')
        if url.endswith("/groups.getMembers"):
            return StubResponse(b'{"response": {"count": 0, "items": []}}')
        return StubResponse(b'{"response": 1}')

    async def close(self) -> None:
        return None

    async def dropped(self, bot: str, update: dict[str, Any]) -> None:
        """The callback route's sink with ``--drop``: counts, as if replied."""
        self.sent += 1


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    drop = "--drop" in sys.argv
    if "--no-inbox" in sys.argv:
        from botrt.protocols.vk import _hooks

        _hooks._inbox = lambda host: None  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "plugins" / "bench").mkdir(parents=True)
        if "--no-plugin" not in sys.argv:
            (root / "plugins" / "bench" / "__plugin__.py").write_text(
                plugin_source("b"), encoding="utf-8"
            )
        (root / "bot.toml").write_text(BOT_TOML, encoding="utf-8")
        host = Host(load_config(root / "bot.toml"))
        await host.start()
        session = StubSession()
        api = host.outbound["bench"].api  # type: ignore[attr-defined]
        api._session = session  # the seam: no HTTP leaves the process (made lazily, not yet)
        api._owns_session = False
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(host.serve)
                while host.web.runner is None:  # noqa: ASYNC110 (the host's server on [server])
                    await anyio.sleep(0.01)
                if drop:
                    for adapter in host.adapters:
                        receiver = getattr(adapter, "receiver", None)
                        if receiver is not None:
                            receiver.sink = session.dropped
                print(f"READY {host.web.port}", flush=True)
                while not host._stop.is_set():
                    print(json.dumps({"replies": session.sent}), flush=True)
                    await anyio.sleep(0.2)
        finally:
            await host.stop()
        print(json.dumps({"replies": session.sent}), flush=True)


if __name__ == "__main__":
    anyio.run(main, backend_options=loop_options())  # uvloop and orjson unless --pure
