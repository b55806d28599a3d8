"""A host serving in a task group for the length of a test: what the served-host tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from botrt.config import BotConfig, parse_config
from botrt.handle import Flow
from botrt.host import Host


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
