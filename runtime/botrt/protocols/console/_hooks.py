"""Registers the console adapter with the host (entry point ``botrt: console``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botrt.hooks import hookimpl
from botrt.protocols.console._adapter import BOT_NAME, ConsoleAdapter
from botrt.protocols.console._outbound import ConsoleOutbound

if TYPE_CHECKING:
    from botrt.adapter import Adapter
    from botrt.host import Host


@hookimpl
def botrt_adapters(host: Host) -> list[Adapter]:
    """The console adapter, when ``[console]`` says it is on."""
    config = host.config
    if not config.console_active:
        return []
    adapter = ConsoleAdapter(
        user_id=config.console.user_id,
        role=config.console.role,
        stdin=host.stdin,
        stdout=host.stdout,
    )
    host.register_bot(BOT_NAME, outbound=ConsoleOutbound(host.stdout, lambda: adapter.prompt))
    return [adapter]
