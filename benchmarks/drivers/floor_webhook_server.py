"""The webhook floor: a bare aiohttp application whose one POST route reads the body
and answers ``ok``. Same loopback, same runner setup (``AppRunner`` with no access
log, ``TCPSite``) as botrt's callback server. Prints ``READY <port>``; stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web


async def ok(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text="ok", content_type="text/plain")


async def main() -> None:
    app = web.Application()
    app.router.add_post("/vk/bench", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f"READY {port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
