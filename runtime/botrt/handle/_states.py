"""`ConversationStates`: every durable conversation state of a host, in memory and in storage.

The storage holds the states (so they survive restarts); this object holds
the same rows in memory, loaded at start and written through on every
change, so that the dispatcher tells with one dict lookup, and no query,
whether a message's sender has a state at all. Most senders have none, and
for them a state costs nothing more.

Several workers on one database (issue 17) each hold such an index, and a
state one worker sets is unknown to the others. That is right as long as each
conversation is handled by one worker: the owner of its partition (Callback
API) or the bot's Long Poll leader. When a worker takes conversations over
from another (a partition or a lead changes hands: a stop, a death, a
rebalancing), it calls `adopt` for the bot before it handles any of their
updates: the bot's states are read again from storage, which every worker
writes through to. Without a cluster nothing calls `adopt`, and a lookup stays
one dict lookup.

A worker that stalled past ``failover`` may still be running a handler of a
conversation whose partition (or whose bot's Long Poll lead) another worker has
taken since. Its writes must not overwrite what the new owner wrote: the cluster's
router calls `fence` for each partitioned bot, a Long Poll adapter for its bot, and
every write of that bot's states then carries the lease the conversation was
handled under (`tenure`), checked in the write's own statement. A write the lease
no longer covers is refused and logged (`refused`); the handler goes on. Without
`fence` (no cluster) writes are unchanged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from botrt.handle._conversation import Conversation
from botrt.handle._inject import NoMatch
from botrt.handle._routes import Route
from botrt.handle._state_rows import Entry, StateBackend, StateKey, Tenure

if TYPE_CHECKING:
    from botrt.adapter import TextEvent
    from botrt.handle._admission import Admission
    from botrt.handle._routes import Routes
    from botrt.handle._run import FlowRun

log = logging.getLogger("botrt.conversations")


class ConversationStates:
    """The durable states of one host: (bot, peer, user) -> plugin -> state and data.

    `clock` gives the host's time in seconds since the epoch, `ttl` the
    ``[conversations] state_ttl``, `cancel` the cancel words, `cancelled`
    the reply to a cancel word (in the bot's language). Call `load` once
    before the first event.
    """

    def __init__(
        self,
        backend: StateBackend,
        *,
        clock: Callable[[], float],
        ttl: Callable[[], float],
        cancel: Callable[[], Iterable[str]],
        cancelled: Callable[[], str],
    ) -> None:
        self._backend = backend
        self._clock = clock
        self._ttl = ttl
        self._cancel = cancel
        self.cancelled = cancelled
        self._index: dict[StateKey, dict[str, Entry]] = {}
        self._next_sweep = 0.0
        self._unhandled_logged: set[tuple[str, str]] = set()
        # One set per `adopt` under way: the keys changed here while it reads.
        self._adopting: list[set[StateKey]] = []
        # bot -> what gives the lease a conversation (by peer) is handled under here.
        self._fences: dict[str, Callable[[int], Tenure | None]] = {}

    async def load(self) -> None:
        """Read every state that has not expired (and delete those that have) from storage.

        :raises StorageError: if the storage is closed or unreachable.
        """
        now = self._clock()
        index: dict[StateKey, dict[str, Entry]] = {}
        for key, plugin, state, data, expires_at in await self._backend.load(now):
            index.setdefault(key, {})[plugin] = Entry(state, data, expires_at)
        self._index = index
        self._next_sweep = now + self._sweep_every()

    def __len__(self) -> int:
        """How many (bot, peer, user) keys have a state in memory (expired ones included)."""
        return len(self._index)

    async def adopt(self, bot: str) -> None:
        """Read `bot`'s states from storage again, replacing what memory holds of them.

        A cluster's worker calls this when it takes over conversations of `bot`
        that another worker handled (a Callback partition or the Long Poll lead
        changes hands), before it handles their updates: the states that worker
        set, changed or cleared are then known here. A state this worker
        changes while the read is under way keeps its change.

        :raises StorageError: if the storage is closed or unreachable (memory is
            left as it was).
        """
        changed: set[StateKey] = set()
        self._adopting.append(changed)
        try:
            rows = await self._backend.load_bot(bot, self._clock())
        finally:
            self._adopting.remove(changed)
        fresh: dict[StateKey, dict[str, Entry]] = {}
        for key, plugin, state, data, expires_at in rows:
            fresh.setdefault(key, {})[plugin] = Entry(state, data, expires_at)
        for key in [k for k in self._index if k[0] == bot and k not in changed]:
            del self._index[key]
        for key, entries in fresh.items():
            if key not in changed:
                self._index[key] = entries

    def fence(self, bot: str, tenure: Callable[[int], Tenure | None]) -> None:
        """Fence `bot`'s state writes from now on (a cluster's partitioned or led bot).

        `tenure(peer)` gives the lease under which this worker handles the
        conversation in chat `peer` now, or None when it does not (any more).
        Every write of `bot`'s states then holds only while that lease does.
        Raises nothing.
        """
        self._fences[bot] = tenure

    def tenure(self, key: StateKey) -> Tenure | None:
        """The lease under which this worker writes `key`'s states now (see `fence`).

        None when `key`'s bot is not fenced (the write is not checked); `NOT_HELD`
        when this worker does not handle `key`'s conversation (any more): the write
        is refused. Raises nothing.
        """
        if not self._fences:  # no cluster: nothing more than this test
            return None
        tenure = self._fences.get(key[0])
        if tenure is None:
            return None
        return tenure(key[1]) or NOT_HELD

    def _changing(self, key: StateKey) -> None:
        # Before a write's first await: an `adopt` reading meanwhile may miss it.
        for changed in self._adopting:
            changed.add(key)

    def has(self, key: StateKey) -> bool:
        """Whether `key` may have a state: one dict lookup, for every message."""
        # A state another worker set is here once this worker handles the key's
        # conversations: it adopted them (`adopt`) before it took their updates.
        return key in self._index

    async def live(self, key: StateKey) -> dict[str, Entry]:
        """`key`'s states that have not expired, by plugin; the expired ones are deleted.

        :raises StorageError: if an expired state cannot be deleted from storage.
        """
        entries = self._index.get(key)
        if not entries:
            return {}
        now = self._clock()
        expired = [p for p, e in entries.items() if e.expires_at <= now]
        if not expired:
            return dict(entries)
        await self.drop(key, expired)
        # A drop its fence refused leaves them in memory: expired all the same.
        return {p: e for p, e in self._index.get(key, {}).items() if p not in expired}

    async def route(self, event: TextEvent, routes: Routes) -> Route | None:
        """Where a text message from a sender with a state goes; None: dispatch it as usual.

        The states of plugins with `on_state` flows take it: a cancel word
        clears them (and is answered), else it goes to the flows of their
        states, which start their expiry over. A state no flow handles is
        logged once and cleared. What `routes.states` does not reach (no
        state, or plugins without state flows) is dispatched as usual.

        :raises StorageError: if the storage is closed or unreachable.
        """
        key = (event.bot, event.peer_id, event.user_id)
        mine = {p: e for p, e in (await self.live(key)).items() if p in routes.state_plugins}
        if not mine:
            return None
        tenure = self.tenure(key)
        if self.is_cancel(event.text):
            await self.drop(key, mine, tenure)
            try:
                await event.reply(self.cancelled())
            except Exception:
                log.exception("could not tell %r that its conversation was cancelled", event)
            return _ANSWERED
        rules: list[Admission] = []
        stale = []
        for plugin, entry in mine.items():
            found = routes.states.get((plugin, entry.state))
            if found is None:
                self.unhandled(plugin, entry.state)
                stale.append(plugin)
            else:
                rules.extend(found)
        if stale:
            await self.drop(key, stale, tenure)
        if not rules:
            return None
        try:
            await self.touch(key, [p for p in mine if p not in stale], tenure)
        except Exception:
            # The state is known from memory: its flows still get the message; only
            # its expiry did not start over.
            log.exception("could not renew the conversation state of %r", event)
        return routes.state_route(rules)

    def conversation(self, key: StateKey, plugin: str) -> Conversation:
        """The `Conversation` of `key` for `plugin`, as a node receives it (no query)."""
        entries = self._index.get(key)
        entry = entries.get(plugin) if entries else None
        tenure = self.tenure(key)  # the lease this event is handled under, if fenced
        if entry is None or entry.expires_at <= self._clock():
            return Conversation(self, key, plugin, tenure=tenure)
        data: dict[str, Any] = json.loads(entry.data)
        return Conversation(self, key, plugin, entry.state, data, tenure=tenure)

    def is_cancel(self, text: str) -> bool:
        """Whether `text` is one of the cancel words (whole text, case and spaces ignored)."""
        word = text.strip().casefold()
        return any(word == w.strip().casefold() for w in self._cancel())

    def unhandled(self, plugin: str, state: str) -> None:
        """Log, once per plugin and state, that no flow handles a state a user was in."""
        if (plugin, state) in self._unhandled_logged:
            return
        self._unhandled_logged.add((plugin, state))
        log.warning(
            "plugin %r has no on_state(%r) flow; users in that state are taken out of it "
            "and their messages dispatched as usual",
            plugin or "(no plugin)",
            state,
        )

    async def put(
        self, key: StateKey, plugin: str, state: str, data: str, tenure: Tenure | None = None
    ) -> bool:
        """Store `plugin`'s `state` and `data` (JSON text) for `key`, expiring a TTL from now.

        `tenure`: the lease the write is made under, for a fenced bot (None: `tenure`
        now). Returns False (logged, nothing stored) when it no longer holds.

        :raises StorageError: if the storage is closed or unreachable.
        """
        now = self._clock()
        expires_at = now + self._ttl()
        if self._adopting:
            self._changing(key)
        write = partial(self._backend.put, key, plugin, state, data, expires_at)
        if not await self._under(key, tenure, write, f"state {state!r}", plugin):
            return False
        self._index.setdefault(key, {})[plugin] = Entry(state, data, expires_at)
        if now >= self._next_sweep:
            await self._sweep(now)
        return True

    async def touch(
        self, key: StateKey, plugins: Collection[str], tenure: Tenure | None = None
    ) -> bool:
        """Start `plugins`' states for `key` over (a message came): they expire a TTL from now.

        `tenure` as in `put`: False (logged, nothing changed) when it no longer holds.

        :raises StorageError: if the storage is closed or unreachable.
        """
        expires_at = self._clock() + self._ttl()
        if self._adopting:
            self._changing(key)
        write = partial(self._backend.touch, key, plugins, expires_at)
        if not await self._under(key, tenure, write, "renewal of the state", ",".join(plugins)):
            return False
        entries = self._index.get(key, {})
        for plugin in plugins:
            entry = entries.get(plugin)
            if entry is not None:
                entry.expires_at = expires_at
        return True

    async def drop(
        self, key: StateKey, plugins: Collection[str], tenure: Tenure | None = None
    ) -> bool:
        """Forget `plugins`' states for `key` (those it has; no error for the others).

        `tenure` as in `put`: False (logged, nothing forgotten) when it no longer holds.

        :raises StorageError: if the storage is closed or unreachable.
        """
        entries = self._index.get(key)
        if not entries or not any(p in entries for p in plugins):
            return True
        if self._adopting:
            self._changing(key)
        write = partial(self._backend.delete, key, plugins)
        if not await self._under(key, tenure, write, "clearing of the state", ",".join(plugins)):
            return False
        for plugin in plugins:
            entries.pop(plugin, None)
        if not entries:
            self._index.pop(key, None)
        return True

    async def _under(
        self,
        key: StateKey,
        tenure: Tenure | None,
        write: Callable[[Tenure | None], Awaitable[bool]],
        what: str,
        plugin: str,
    ) -> bool:
        """Make `write` with its fence: `tenure` (None: `tenure` now, for a fenced bot).

        Unfenced, the write is made and True returned; fenced, False (logged,
        nothing written) when the lease no longer holds.
        """
        if tenure is None and self._fences:
            tenure = self.tenure(key)
        if tenure is None:
            await write(None)
            return True
        if tenure is NOT_HELD or not await write(tenure):
            self.refused(what, key, plugin, tenure)
            return False
        return True

    def refused(self, what: str, key: StateKey, plugin: str, tenure: Tenure) -> None:
        """Log a write refused by its fence: another worker handles `key`'s conversation now."""
        bot, peer, user = key
        if tenure is NOT_HELD:
            why = "this worker no longer handles the conversation (its partition or lead)"
        else:
            why = f"worker {tenure.owner} no longer holds {tenure.name} at epoch {tenure.epoch}"
        log.warning(
            "%s: another worker took the conversation over (bot %s, peer %d, user %d); the "
            "%s of plugin %r was not stored, so that what that worker stored stands",
            why,
            bot,
            peer,
            user,
            what,
            plugin or "(no plugin)",
        )

    async def _sweep(self, now: float) -> None:
        # States of users who never wrote again would otherwise stay until a restart.
        self._next_sweep = now + self._sweep_every()
        await self._backend.prune(now)
        for key in list(self._index):
            entries = self._index[key]
            for plugin in [p for p, e in entries.items() if e.expires_at <= now]:
                del entries[plugin]
            if not entries:
                del self._index[key]

    def _sweep_every(self) -> float:
        return min(max(self._ttl(), 1.0), 3600.0)


class _NotHeld:
    """The tenure of a conversation this worker does not handle (any more): never holds."""

    name = ""
    owner = ""
    epoch = -1

    def __repr__(self) -> str:
        return "NOT_HELD"


NOT_HELD: Tenure = _NotHeld()
"""`ConversationStates.tenure` of a fenced bot's conversation this worker does not own."""

_ANSWERED = Route(())
"""The route of a message already answered here (a cancel word): no flow."""


def conversation_provider(
    states: Callable[[], ConversationStates | None],
) -> Callable[[FlowRun], Conversation]:
    """The service provider of `Conversation`: the run's sender's, for the flow's plugin.

    It raises `NoMatch` (the node is skipped; ``Conversation | None`` gets
    None) without states (no storage) or for an event with no sender.
    """

    def provide(run: FlowRun) -> Conversation:
        current = states()
        event = run.event
        user = getattr(event, "user_id", None)
        if current is None or not isinstance(user, int):
            raise NoMatch
        key = (event.bot, getattr(event, "peer_id", user), user)
        return current.conversation(key, run.flow.plugin or "")

    return provide
