"""`DONE`: an awaitable that is done at once, and the test for one.

What a per-event path returns when there is nothing left to await (an event
no flow takes; an answer whose resumed run already waits again): awaiting it
runs no Python frame, and a driver that finds it skips the await altogether.
"""

from __future__ import annotations


class Done(tuple):  # type: ignore[type-arg]
    """An awaitable done at once, with no Python frame: a tuple's empty iterator."""

    __slots__ = ()
    __await__ = tuple.__iter__  # type: ignore[assignment]


DONE = Done()
"""The one `Done`: compare with ``is``."""
