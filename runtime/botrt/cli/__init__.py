"""The `botrt` command line."""

from botrt.cli._main import main

__all__ = ["main"]
