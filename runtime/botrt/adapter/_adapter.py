"""The interface between a platform and the host."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable

from botrt.adapter._event import Event

Submit = Callable[[Event], Awaitable[None]]
"""How an adapter hands an event to the host; waits while the host's queue is full."""


class Adapter(abc.ABC):
    """A platform connection: turns what arrives into events and hands them to the host.

    The host calls `run` in its task group and cancels it to stop intake,
    then calls `close`. Third-party adapters register through the pluggy hook
    ``botrt_adapters`` (entry point group ``botrt``).

    Attributes:
        name: a short name for logs (``"console"``, ``"vk:group1"``).
        ends_host: when `run` returns by itself (its input ended), the host
            stops, if no other adapter keeps it alive.
    """

    name: str = "adapter"
    ends_host: bool = False

    @abc.abstractmethod
    async def run(self, submit: Submit) -> None:
        """Receive events and pass each to `submit` until cancelled or the input ends."""

    async def close(self) -> None:  # noqa: B027 (optional hook, empty by default)
        """Release connections and sessions; called once after `run` has ended."""

    def healthy(self) -> bool:
        """Whether the adapter is connected (for ``/healthz``)."""
        return True
