"""The console platform: standard input in, standard output out."""

from botrt.protocols.console._adapter import ConsoleAdapter, StdinEvent

__all__ = ["ConsoleAdapter", "StdinEvent"]
