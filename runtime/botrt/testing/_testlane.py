"""The lane of a `TestHost` message, and the reply lists it echoes after an ``ask``.

A `TestHost` gives each message a lane of its own, as the host's intake does:
`_TestLane` wakes the waiting `send` when its run detaches in ``ask`` and
`TestHost.settle` when a run waits again or ends.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from botrt.handle._internal import Lane
from botrt.testing._memory import MemoryEvent

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.testing._host import TestHost


class _TestLane(Lane):
    """A `TestHost` message's lane: detaching wakes the `send` that waits for it."""

    __slots__ = ("detached_future", "event", "test_host")

    def __init__(self, test_host: TestHost, event: Event) -> None:
        super().__init__()
        self.test_host = test_host
        self.event = event
        self.detached_future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def release(self) -> None:
        """Let the `send` that started the run return."""
        if not self.detached_future.done():
            self.detached_future.set_result(None)

    def detach(self) -> bool:
        """As `Lane.detach`; a run that waits again wakes `TestHost.settle`."""
        first = super().detach()
        self.test_host._nudge()
        return first

    def finished(self) -> None:
        """As `Lane.finished`; wakes `TestHost.settle`."""
        super().finished()
        self.test_host._nudge()

    def echo_to(self, answer: Event | None) -> None:
        """While `answer` resumes this run, copy replies to its first message into `answer`'s.

        A handler may reply through the message that started it after an
        ``ask``; `send` returns the replies of the message it sent. None ends it.
        """
        first = self.event
        if not isinstance(first, MemoryEvent):
            return
        if isinstance(answer, MemoryEvent):
            first.replies = _Echo(first.replies, answer.replies)
            first.reply_options = _Echo(first.reply_options, answer.reply_options)
        else:
            first.replies = list(first.replies)
            first.reply_options = list(first.reply_options)


class _Echo(list[Any]):
    """A list that also appends each new item to another list."""

    def __init__(self, items: list[Any], echo: list[Any]) -> None:
        super().__init__(items)
        self.echo = echo

    def append(self, item: Any) -> None:
        """Append `item` here and to the echo."""
        super().append(item)
        self.echo.append(item)
