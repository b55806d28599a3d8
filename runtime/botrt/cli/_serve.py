"""`botrt serve`: run the bot until a signal, or until the console's input ends."""

from __future__ import annotations

import argparse
import logging

import anyio

from botrt.cli._common import read_config, setup_logging
from botrt.cli._logging import secrets_of
from botrt.config import BotConfig
from botrt.host import Host

log = logging.getLogger("botrt.serve")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the command."""
    p = sub.add_parser("serve", help="run the bot described by bot.toml")
    p.add_argument("--config", default="bot.toml", help="the bot.toml to run (default: ./bot.toml)")
    p.add_argument("--no-reload", action="store_true", help="do not watch plugins for changes")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    p.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="json: one object a line"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve; returns the exit status (0 after a graceful stop)."""
    setup_logging(args.log_level, args.log_format)
    config = read_config(args.config)
    if config is None:
        return 1
    setup_logging(args.log_level, args.log_format, secrets_of(config))
    return anyio.run(serve, config, not args.no_reload)


async def serve(config: BotConfig, reload: bool) -> int:
    """Start a host for `config`, serve until stopped, and stop it cleanly."""
    host = Host(config)
    await host.start()
    try:
        extra = []
        if reload and config.plugins.reload:
            from botrt.host._reload import Reloader

            extra.append(Reloader(host).run)
        await host.serve(extra_tasks=tuple(extra))
    finally:
        # Not inside a new cancel scope: stop() closes the task group start() opened,
        # which anyio requires to happen in the same scope.
        await host.stop()
    log.info("stopped")
    return 0
