"""`botrt serve`: run the bot until a signal, or until the console's input ends."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from botrt.cli._common import read_config, setup_logging
from botrt.cli._logging import secrets_of

if TYPE_CHECKING:
    from botrt.config import BotConfig

log = logging.getLogger("botrt.serve")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the command."""
    p = sub.add_parser("serve", help="run the bot described by bot.toml")
    p.add_argument("--config", default=None, help="the bot.toml to run (default: ./bot.toml)")
    p.add_argument("--no-reload", action="store_true", help="do not watch plugins for changes")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    p.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="json: one object a line"
    )
    p.add_argument(
        "--grace",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="on SIGTERM or SIGINT, how long work in flight may take to finish (default: 10)",
    )
    p.set_defaults(run=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 86400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (like 10 or 2.5)")
    return value


def run(args: argparse.Namespace) -> int:
    """Serve; returns the exit status (0 after a graceful stop)."""
    # Start-up (SQLAlchemy, plugins) allocates some 100k objects that live as long as
    # the process, and almost no garbage; the cyclic collector would scan them again
    # and again while they pile up (~60 ms of a ~0.5 s start on a slow machine).
    # `_resume_gc` turns it back on once the host has started.
    gc.disable()
    try:
        setup_logging(args.log_level, args.log_format)
        config = read_config(args.config)
        if config is None or not _setup_is_sound(config, args.config):
            return 1
        setup_logging(args.log_level, args.log_format, secrets_of(config))
        # Imported here, not at the top: every `botrt` command imports this module to
        # build its parser, and only `serve` needs the event loop.
        import anyio

        return anyio.run(
            partial(serve, config, not args.no_reload, started=_resume_gc, grace=args.grace),
            backend_options=loop_options(),
        )
    finally:
        gc.enable()


def loop_options() -> dict[str, Any]:
    """anyio's asyncio options for `serve`: uvloop when it is installed (``botrt[speed]``)."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return {}
    return {"use_uvloop": True}


def _setup_is_sound(config: BotConfig, given: str | None) -> bool:
    """Refuse what `botrt check` refuses in ``bot.toml``, with its words; log its warnings.

    Only plugins with a settings table are imported here (and dropped again): the
    host imports each plugin anyway and reports its import errors itself.
    """
    from botrt.cli._check import diagnose, report
    from botrt.plugin._internal import unload_modules

    found, loaded, _ = diagnose(config, given, only_with_settings=True)
    for plugin in loaded:
        unload_modules(plugin)
    for warning in found.warnings:
        log.warning("%s", warning)
    if not found.errors:
        return True
    found.warnings.clear()
    print("botrt: invalid configuration:", file=sys.stderr)
    report(found, [], given)
    return False


async def serve(
    config: BotConfig,
    reload: bool,
    *,
    started: Callable[[], None] | None = None,
    grace: float = 10.0,
) -> int:
    """Start a host for `config`, serve until stopped, and stop it cleanly.

    `started` is called once the host has started (or failed to). `grace` is
    the host's `drain_grace`: the whole stop, from the signal, takes no longer.
    """
    from botrt.host import Host

    if config.cluster.enabled:
        # What this worker leads is logged as it takes and gives up each lease.
        log.info(
            "cluster worker %s (failover %g s): sharing the work with the other workers "
            "on this storage",
            config.cluster.worker_id,
            config.cluster.failover,
        )
    host = Host(config)
    host.drain_grace = grace
    try:
        await host.start()
    finally:
        if started is not None:
            started()
    try:
        extra = []
        if reload and config.plugins.reload:
            from botrt.host._internal import Reloader

            extra.append(Reloader(host).run)
        await host.serve(extra_tasks=tuple(extra))
    finally:
        # Not inside a new cancel scope: stop() closes the task group start() opened,
        # which anyio requires to happen in the same scope.
        await host.stop()
    log.info("stopped")
    return 0


def _resume_gc() -> None:
    # What start-up allocated is long-lived: move it to the oldest generation in one
    # step (freeze, then unfreeze), so the young collections that follow do not scan
    # it; full collections still do, and free whatever garbage start-up left.
    gc.freeze()
    gc.unfreeze()
    gc.enable()
