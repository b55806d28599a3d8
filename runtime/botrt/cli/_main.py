"""Entry point of the `botrt` command: parses arguments and runs one command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from botrt.cli import _check, _graph, _init, _new_plugin, _plugins, _serve


def _parser() -> argparse.ArgumentParser:
    from botrt import __version__

    p = argparse.ArgumentParser(prog="botrt", description="A chat-bot runtime with hot reload.")
    p.add_argument("--version", action="version", version=f"botrt {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for module in (_serve, _check, _init, _new_plugin, _graph, _plugins):
        module.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `botrt` command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return int(args.run(args))
