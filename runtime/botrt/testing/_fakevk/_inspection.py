"""`FakeVK`'s inspection: what the bot sent and asked, and waiting for it.

`Inspection` is mixed into `FakeVK`: read-only views of the shared `State`
(the lists are the live records), the few counters a test may reset, and
`wait_for`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from botrt.testing._fakevk._state import (
    Activity,
    EventAnswer,
    LiveMessage,
    SavedDoc,
    SentMessage,
    State,
)


class Inspection:
    """The records and counters of `FakeVK` (see the module)."""

    _state: State

    @property
    def sent(self) -> list[SentMessage]:
        """Every message accepted, in order."""
        return self._state.sent

    @property
    def messages(self) -> list[LiveMessage]:
        """Every message sent, as its conversation shows it now (edits and keyboards applied)."""
        return self._state.messages

    @property
    def event_answers(self) -> list[EventAnswer]:
        """Every `messages.sendMessageEventAnswer` accepted, in order."""
        return self._state.event_answers

    @property
    def activities(self) -> list[Activity]:
        """Every `messages.setActivity` accepted ("typing..."), in order."""
        return self._state.activities

    @property
    def docs(self) -> list[SavedDoc]:
        """Every document stored by `docs.save`, in order."""
        return self._state.docs

    @property
    def calls(self) -> Counter[str]:
        """API requests received, by method (failed ones included)."""
        return self._state.calls

    @property
    def rate_limited(self) -> int:
        """Requests refused with error 6."""
        return self._state.rate_limited

    @rate_limited.setter
    def rate_limited(self, value: int) -> None:
        self._state.rate_limited = value

    @property
    def longpoll_requests(self) -> int:
        """`a_check` requests received."""
        return self._state.longpoll_requests

    @longpoll_requests.setter
    def longpoll_requests(self, value: int) -> None:
        self._state.longpoll_requests = value

    @property
    def rate_limit(self) -> int:
        """API requests a token may make in any one second."""
        return self._state.rate_limit

    @rate_limit.setter
    def rate_limit(self, value: int) -> None:
        self._state.rate_limit = value

    @property
    def longpoll_wait_cap(self) -> float:
        """The longest, in seconds, an `a_check` waits for events, whatever its `wait`."""
        return self._state.longpoll_wait_cap

    @longpoll_wait_cap.setter
    def longpoll_wait_cap(self, value: float) -> None:
        self._state.longpoll_wait_cap = value

    def sent_to(self, peer_id: int) -> list[SentMessage]:
        """Return the messages sent to `peer_id`, in order."""
        return [m for m in self._state.sent if m.peer_id == peer_id]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until `predicate()` is true; checked as each request arrives and is answered.

        Bound the wait with `anyio.fail_after`.
        """
        while not predicate():
            await self._state.changed.wait()
