"""The host: one bot runtime wiring config, storage, plugins, dispatcher and adapters."""

from botrt.host._host import Host
from botrt.host._roles import Roles

__all__ = ["Host", "Roles"]
