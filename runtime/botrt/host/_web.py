"""The host's HTTP server on ``[server]``: /healthz, /metrics, and platforms' webhooks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from botrt.host._metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable

    from aiohttp import web

    from botrt.adapter import Adapter, Event
    from botrt.config import ServerSection

log = logging.getLogger("botrt.web")


class WebServer:
    """One aiohttp application and runner, owned by the host.

    Adapters that receive webhooks add their routes through ``add_routes(app,
    submit)``; the server also answers ``GET /healthz`` (200 when every adapter
    is healthy, else 503) and ``GET /metrics`` (Prometheus text format).
    `app()` can be mounted into an existing aiohttp application instead.

    aiohttp is imported when the server is built, not with this module: a
    console-only bot never loads it.
    """

    def __init__(
        self,
        *,
        adapters: Callable[[], Iterable[Adapter]],
        submit: Callable[[Event], Awaitable[None]],
        render_metrics: Callable[[], bytes],
        config: Callable[[], ServerSection],
    ) -> None:
        self._adapters = adapters
        self._submit = submit
        self._render_metrics = render_metrics
        self._config = config
        self.runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        """The application with every route; build it once per server."""
        from aiohttp import web

        app = web.Application(client_max_size=1024**2)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        for adapter in self._adapters():
            add_routes = getattr(adapter, "add_routes", None)
            if add_routes is not None:
                add_routes(app, self._submit)
        return app

    async def _healthz(self, request: web.Request) -> web.Response:
        from aiohttp import web

        status = {a.name: bool(a.healthy()) for a in self._adapters()}
        ok = all(status.values())
        return web.json_response({"ok": ok, "adapters": status}, status=200 if ok else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        from aiohttp import web

        body = self._render_metrics()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port = 0``), or the configured one."""
        if self.runner is not None:
            for address in self.runner.addresses:
                return int(address[1])
        return self._config().port

    async def run(self) -> None:
        """Serve until cancelled."""
        from aiohttp import web

        server = self._config()
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, server.host, server.port).start()
            self.runner = runner
            log.info("http server on http://%s:%s (/healthz, /metrics)", server.host, self.port)
            await anyio.sleep_forever()
        finally:
            self.runner = None
            with anyio.CancelScope(shield=True):
                await runner.cleanup()
