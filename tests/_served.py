"""What the host tests share: a host serving for the length of a test, a bare config, a filter."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from botrt.adapter import Event
from botrt.config import BotConfig, parse_config
from botrt.handle import Flow
from botrt.hooks import hookimpl
from botrt.host import Host


class DropSecrets:
    """A hook module whose ``botrt_event_received`` drops every text starting "secret"."""

    @hookimpl
    def botrt_event_received(self, host: Host, event: Event) -> bool | None:
        return False if getattr(event, "text", "").startswith("secret") else None


def bare_config(**sections: Any) -> BotConfig:
    """A ``bot.toml`` with no console and no plugin folders, plus `sections`."""
    return parse_config(
        {"console": {"enabled": False}, "plugins": {"builtin": False, "dirs": []}, **sections},
        base_dir=".",
    )


@asynccontextmanager
async def serving(host: Host, flows: Iterable[Flow], *, hard: bool = False) -> AsyncIterator[Host]:
    """Start `host` with only `flows`, serve it while the block runs, then stop it.

    `hard`: the block's end cancels serving (a stop past its grace: parked
    runs are closed) instead of asking it to stop and drain.
    """
    await host.start()
    host.dispatcher.replace((), list(flows))
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: host.serve(signals=False))
            await anyio.wait_all_tasks_blocked()
            yield host
            if hard:
                tg.cancel_scope.cancel()
            else:
                host.request_stop()
    finally:
        await host.stop()
