"""Routes: for each command word, the flows an event may reach, tier by tier.

Built when a flow is added, removed or changed (priority, guard, binding,
gate) and when the prefixes change; never per event. An event costs one
lookup (its first word, or the default route) and then the admission checks
of the flows on its route, each compiled once (`_admission`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from botrt.handle._admission import Admission, IsAdmin, admission

if TYPE_CHECKING:
    from botrt.handle._flow import Flow

Tier = tuple[Admission, ...]
"""The flows of one priority on a route, with how each admits an event."""


class Route:
    """The tiers an event with one command word reaches, highest priority first.

    ``direct`` is the route's one flow when nothing has to be checked: the
    common case (one plain command, or a bot with a single flow), which then
    runs with no work of the dispatcher's own.
    """

    __slots__ = ("direct", "tiers")

    def __init__(self, tiers: Sequence[Tier]) -> None:
        self.tiers = tuple(t for t in tiers if t)
        only = self.tiers[0] if len(self.tiers) == 1 and len(self.tiers[0]) == 1 else ()
        self.direct: Flow | None = only[0].flow if only and only[0].free else None


class Routes:
    """Every route of a set of flows.

    ``by_word`` maps ``prefix + command name`` to the route of text whose
    first word (lower-cased) it is; ``default`` is the route of every other
    event: the flows that are not commands. An empty ``by_word`` means there
    are no commands, and the word need not be computed.
    """

    __slots__ = ("by_word", "default")

    def __init__(self, flows: Iterable[Flow], prefixes: Sequence[str], is_admin: IsAdmin) -> None:
        by_priority: dict[int, tuple[dict[str, list[Admission]], list[Admission]]] = {}
        for f in flows:
            commands, every = by_priority.setdefault(f.priority, ({}, []))
            rule = admission(f, is_admin)
            spec = f.binding.command if f.binding is not None else None
            if spec is None:
                every.append(rule)
                continue
            for prefix in prefixes:
                for name in spec.names:
                    commands.setdefault(prefix + name, []).append(rule)
        tiers = [by_priority[p] for p in sorted(by_priority, reverse=True)]
        self.default = Route([tuple(every) for _, every in tiers])
        words = {word: None for commands, _ in tiers for word in commands}
        self.by_word = {
            word: Route([(*commands.get(word, ()), *every) for commands, every in tiers])
            for word in words
        }
