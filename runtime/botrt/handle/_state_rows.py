"""The rows of durable conversation states as the dispatcher's index holds them, and the
storage it writes them through to (`StateBackend`)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

StateKey = tuple[str, int, int]
"""(bot, peer, user): whose conversation it is."""
StoredState = tuple[StateKey, str, str, str, float]
"""(key, plugin, state, data as JSON text, expires at in seconds since the epoch)."""


class Tenure(Protocol):
    """A lease as held by one worker (``botrt.storage.Lease``): a fenced write's token.

    A cluster's worker writes a conversation's state only while it holds the lease of
    the conversation's partition with this owner and epoch (docs/cluster.md).
    """

    @property
    def name(self) -> str:
        """The lease's name (``route:<bot>:p<n>``)."""
        ...

    @property
    def owner(self) -> str:
        """The worker holding it."""
        ...

    @property
    def epoch(self) -> int:
        """The epoch it was held at: a takeover raises it."""
        ...


class StateBackend(Protocol):
    """Where the states are kept durably (the host gives a storage's ``StateRows``)."""

    async def load(self, now: float) -> list[StoredState]:
        """Delete the states expired at `now`; return the others."""
        ...

    async def load_bot(self, bot: str, now: float) -> list[StoredState]:
        """The states of `bot`'s conversations that have not expired at `now`."""
        ...

    async def put(
        self,
        key: StateKey,
        plugin: str,
        state: str,
        data: str,
        expires_at: float,
        fence: Tenure | None = None,
    ) -> bool:
        """Store one plugin's state for `key`; with `fence`, only while it holds (else False)."""
        ...

    async def touch(
        self,
        key: StateKey,
        plugins: Collection[str],
        expires_at: float,
        fence: Tenure | None = None,
    ) -> bool:
        """Move the expiry of `plugins`' states for `key`; with `fence`, as `put`."""
        ...

    async def delete(
        self, key: StateKey, plugins: Collection[str], fence: Tenure | None = None
    ) -> bool:
        """Forget `plugins`' states for `key`; with `fence`, as `put`."""
        ...

    async def prune(self, now: float) -> int:
        """Delete every state expired at `now`."""
        ...


class Entry:
    """One plugin's state for one key, as held in memory."""

    __slots__ = ("data", "expires_at", "state")

    def __init__(self, state: str, data: str, expires_at: float) -> None:
        self.state = state
        self.data = data
        self.expires_at = expires_at
