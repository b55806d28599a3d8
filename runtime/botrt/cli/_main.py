"""Entry point of the `botrt` command: parses arguments and runs one command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    from botrt import __version__

    p = argparse.ArgumentParser(prog="botrt", description="A chat-bot runtime with hot reload.")
    p.add_argument("--version", action="version", version=f"botrt {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the bot described by bot.toml")
    serve.add_argument("--config", default="bot.toml")
    serve.add_argument("--no-reload", action="store_true")
    serve.add_argument("--log-level", default="INFO")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `botrt` command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help(sys.stderr)
        return 2
    print(f"botrt {args.command}: not yet available (the plugin host lands next)", file=sys.stderr)
    return 1
