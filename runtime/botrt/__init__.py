"""botrt: a plugin-host chat-bot runtime with flows as DAGs and hot reload."""

from __future__ import annotations

from typing import Any

__all__ = ["PluginPlanner", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import botrt` does no work and pulls in nothing it does not need.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("botrt")
        except PackageNotFoundError:  # running from a source tree that is not installed
            return "0+unknown"
    if name == "PluginPlanner":
        from botrt.plugin import PluginPlanner

        return PluginPlanner
    raise AttributeError(f"module 'botrt' has no attribute {name!r}")
