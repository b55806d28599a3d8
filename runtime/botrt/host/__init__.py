"""The host: one bot runtime wiring config, storage, plugins, dispatcher and adapters."""

from botrt.host._host import Host

__all__ = ["Host"]
