"""`TestHost`: a real dispatcher over an in-memory platform, for tests."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any

from botrt._errors import BotrtError
from botrt.adapter import Event
from botrt.handle import Dispatcher, Flow, Services
from botrt.testing._memory import MemoryEvent


class TestHostError(BotrtError):
    """Raised when a `TestHost` is used outside its ``async with`` block."""


class TestHost:
    """Runs flows over an in-memory platform, so they can be tested with no network.

    Use as ``async with TestHost(flows=[f]) as host: assert await host.send("/hi") == [...]``.

    `plugins` takes plugin folders once the plugin host is available;
    `config` a ``bot.toml`` mapping.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        *,
        plugins: Iterable[Any] = (),
        flows: Iterable[Flow] = (),
        config: Any = None,
    ) -> None:
        self._flows = tuple(flows)
        self._plugins = tuple(plugins)
        self._config = config
        self.services = Services()
        self._dispatcher: Dispatcher | None = None
        if self._plugins:
            raise TestHostError("TestHost(plugins=...) needs the plugin host, not built yet")

    async def __aenter__(self) -> TestHost:
        self._dispatcher = Dispatcher(self._flows, self.services)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._dispatcher = None

    @property
    def dispatcher(self) -> Dispatcher:
        """The running dispatcher.

        :raises TestHostError: outside the ``async with`` block.
        """
        if self._dispatcher is None:
            raise TestHostError("use the TestHost inside `async with TestHost(...) as host:`")
        return self._dispatcher

    async def send(self, text: str, *, user_id: int = 1, role: str = "member") -> list[str]:
        """Deliver a text message from `user_id` and return the replies.

        Returns once every flow has finished with the message.

        :raises TestHostError: outside the ``async with`` block.
        """
        ev = MemoryEvent(text, user_id=user_id, role=role)
        await self.dispatcher.dispatch(ev)
        return list(ev.replies)

    async def emit(self, event: Event) -> list[str]:
        """Deliver any event; returns its replies when it is a `MemoryEvent`.

        :raises TestHostError: outside the ``async with`` block.
        """
        await self.dispatcher.dispatch(event)
        return list(event.replies) if isinstance(event, MemoryEvent) else []
