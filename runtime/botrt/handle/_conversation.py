"""`Conversation`: the durable state of one user in one chat for one plugin."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botrt._errors import BotrtError

if TYPE_CHECKING:
    from botrt.handle._state_rows import Tenure
    from botrt.handle._states import ConversationStates, StateKey

MAX_STATE = 200
"""The longest state name, in characters (what the storage column holds)."""


class ConversationDataError(BotrtError, ValueError):
    """Raised by `Conversation.set` when the state or data cannot be stored.

    The message names the state or the data key at fault and says why
    (data must be JSON: str, int, float, bool, None, lists and dicts of them).
    Nothing was stored.
    """


class Conversation:
    """The durable state of one user in one chat (on one bot) for one plugin.

    Annotate a node's parameter with it (``conv: Conversation``) to receive
    the conversation of the event's sender in the event's chat, for the
    node's plugin. It is kept in the bot's storage, so it survives reloads
    and restarts, and expires after ``[conversations] state_ttl`` seconds
    without a message from that user in that chat. While it is in a state,
    the user's text messages in that chat go to the plugin's
    `on_state` flows for that state (a cancel word clears it instead).

    Attributes:
        state: the current state, or None when there is none.
        data: the data kept with it (JSON values), ``{}`` when there is none;
            a copy: change it with `set`.
    """

    __slots__ = ("_key", "_plugin", "_states", "_tenure", "data", "state")

    def __init__(
        self,
        states: ConversationStates,
        key: StateKey,
        plugin: str,
        state: str | None = None,
        data: dict[str, Any] | None = None,
        *,
        tenure: Tenure | None = None,
    ) -> None:
        self._states = states
        self._key = key
        self._plugin = plugin
        # In a cluster, the partition lease the event is handled under: a write after
        # another worker took the conversation over is refused (docs/cluster.md).
        self._tenure = tenure
        self.state = state
        self.data: dict[str, Any] = {} if data is None else data

    async def set(self, state: str, **data: Any) -> None:
        """Enter `state`, merging `data` into the data kept (the given keys replace theirs).

        Stored before it returns; the expiry starts again from now. In a cluster,
        a worker that lost the conversation to another worker (it stalled past
        ``failover``) stores nothing: the write is logged as refused, and the
        handler goes on (the other worker handles the update again).

        :raises ConversationDataError: if `state` is not a non-empty string of
            at most 200 characters, or a value of `data` is not JSON (naming
            its key); nothing is stored then.
        :raises StorageError: if the storage is closed or unreachable, or this
            task is inside a write transaction (``async with ps.begin()``).
        """
        if not isinstance(state, str) or not state or len(state) > MAX_STATE:
            raise ConversationDataError(
                f"Conversation.set: the state must be a non-empty string of at most "
                f"{MAX_STATE} characters, not {state!r}"
            )
        merged = {**self.data, **data}
        for name, value in merged.items():  # kept values too: `data` may have been changed
            _check_json(name, value)
        text = json.dumps(merged, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        await self._states.put(self._key, self._plugin, state, text, self._tenure)
        self.state = state
        self.data = json.loads(text)

    async def clear(self) -> None:
        """Leave the state and forget its data (nothing happens when there is none).

        In a cluster, refused as `set` is once another worker took the conversation over.

        :raises StorageError: if the storage is closed or unreachable, or this
            task is inside a write transaction.
        """
        await self._states.drop(self._key, (self._plugin,), self._tenure)
        self.state = None
        self.data = {}

    def __repr__(self) -> str:
        bot, peer, user = self._key
        return (
            f"<Conversation bot={bot!r} peer={peer} user={user} plugin={self._plugin!r} "
            f"state={self.state!r}>"
        )


def _check_json(name: str, value: Any) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConversationDataError(
            f"Conversation.set: data {name}={value!r} cannot be stored: {exc} "
            "(data values must be JSON: str, int, float, bool, None, lists and dicts of them)"
        ) from None
