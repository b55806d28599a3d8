"""Routes: for each command word, the flows an event may reach, tier by tier.

Built when a flow is added, removed or changed (priority, guard, binding),
when a `Gate` closes or opens, and when the prefixes change; never per
event. An event costs one lookup (its first word, or the default route) and
then the admission checks of the flows on its route, each compiled once
(`_admission`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import anyio

from botrt.adapter import TextEvent
from botrt.handle._admission import Admission, IsAdmin, admission
from botrt.handle._middleware import FlowMiddleware, Runner, runner
from botrt.handle._walk import run_flow

if TYPE_CHECKING:
    from botrt.handle._cooldown import Cooldowns
    from botrt.handle._flow import Flow

Tier = tuple[Admission, ...]
"""The flows of one priority on a route, with how each admits an event."""


class Gate:
    """Holds back the events bound for some flows while their plugin swaps.

    A dispatcher's `hold` closes one and `release` opens it. While it is
    closed, a route that reaches one of its flows is held whole: its events
    wait here, then are delivered afresh on the routes of that moment (the
    new version's flows, or the old ones again when the swap rolled back),
    so no event is split between two versions. Events that took their route
    before the gate closed are not held: they finish on the flows they found.
    """

    __slots__ = ("_opened", "flows")

    def __init__(self, flows: Iterable[Flow]) -> None:
        self.flows = frozenset(flows)
        self._opened = anyio.Event()

    @property
    def is_open(self) -> bool:
        """Whether the held events have been let through."""
        return self._opened.is_set()

    def open(self) -> None:
        """Let the held events through (a dispatcher's `release` calls it)."""
        self._opened.set()

    async def wait(self) -> None:
        """Wait until the gate opens."""
        await self._opened.wait()


class Route:
    """The tiers an event with one command word reaches, highest priority first.

    ``direct`` is the route's one flow when nothing has to be checked: the
    common case (one plain command, or a bot with a single flow), which then
    runs with no work of the dispatcher's own. A route that reaches a flow
    held by a closed `Gate` has no tiers and that ``gate``: its events wait
    there, then take their route again.
    """

    __slots__ = ("direct", "gate", "run", "tiers")

    def __init__(self, tiers: Sequence[Tier], held: dict[Flow, Gate] | None = None) -> None:
        self.gate: Gate | None = None
        self.run: Runner = run_flow  # how `direct` runs (inside its middleware, if any)
        if held:
            self.gate = next((held[r.flow] for t in tiers for r in t if r.flow in held), None)
        if self.gate is not None:
            self.tiers: tuple[Tier, ...] = ()
            self.direct: Flow | None = None
            return
        self.tiers = tuple(t for t in tiers if t)
        only = self.tiers[0] if len(self.tiers) == 1 and len(self.tiers[0]) == 1 else ()
        self.direct = only[0].flow if only and only[0].free else None
        if self.direct is not None:
            self.run = only[0].run


class Routes:
    """Every route of a set of flows.

    ``by_word`` maps ``prefix + command name`` to the route of text whose
    first word (lower-cased) it is; ``default`` is the route of every other
    event: the flows that are not commands. An empty ``by_word`` means there
    are no commands, and the word need not be computed.

    ``states`` maps (plugin, state) to the `on_state` flows of that state
    (plugin ``""`` for flows outside plugins), which no other route reaches;
    empty when there are none, and then no message asks for its sender's
    state. ``state_plugins`` are the plugins that have such flows.

    ``text_default`` says whether a flow of the default route may take a text
    message (a catch-all `on_text`, say): then an unknown command is theirs,
    and gets no hint. Each flow runs inside the middleware `inner` (the
    dispatcher's), then its own (``flow.middleware``).
    """

    __slots__ = ("by_word", "default", "held", "state_plugins", "states", "text_default")

    def __init__(
        self,
        flows: Iterable[Flow],
        prefixes: Sequence[str],
        is_admin: IsAdmin,
        gates: Iterable[Gate] = (),
        *,
        inner: Sequence[FlowMiddleware] = (),
        cooldowns: Cooldowns | None = None,
    ) -> None:
        held = {f: g for g in gates for f in g.flows}
        self.held = held
        self.states: dict[tuple[str, str], list[Admission]] = {}
        by_priority: dict[int, tuple[dict[str, list[Admission]], list[Admission]]] = {}
        for f in flows:
            rule = admission(f, is_admin, cooldowns)
            if inner or f.middleware:
                rule.run = runner((*inner, *f.middleware))
            state = f.binding.state if f.binding is not None else None
            if state is not None:
                self.states.setdefault((f.plugin or "", state), []).append(rule)
                continue
            commands, every = by_priority.setdefault(f.priority, ({}, []))
            spec = f.binding.command if f.binding is not None else None
            if spec is None:
                every.append(rule)
                continue
            for prefix in prefixes:
                for name in spec.names:
                    commands.setdefault(prefix + name, []).append(rule)
        tiers = [by_priority[p] for p in sorted(by_priority, reverse=True)]
        self.default = Route([tuple(every) for _, every in tiers], held)
        self.text_default = any(_takes_text(r.flow) for _, every in tiers for r in every)
        words = {word: None for commands, _ in tiers for word in commands}
        self.by_word = {
            word: Route([(*commands.get(word, ()), *every) for commands, every in tiers], held)
            for word in words
        }
        self.state_plugins = frozenset(plugin for plugin, _ in self.states)

    def state_route(self, rules: Iterable[Admission]) -> Route:
        """The route of a message taken by the state flows `rules` (from `states`), by priority."""
        tiers: dict[int, list[Admission]] = {}
        for rule in rules:
            tiers.setdefault(rule.flow.priority, []).append(rule)
        return Route([tuple(tiers[p]) for p in sorted(tiers, reverse=True)], self.held)


def _takes_text(flow: Flow) -> bool:
    """Whether `flow` may take a text message (by its binder's event types)."""
    types = flow.binding.event_types if flow.binding is not None else None
    if not types:
        return True
    return any(issubclass(t, TextEvent) or issubclass(TextEvent, t) for t in types)
