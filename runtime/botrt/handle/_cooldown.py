"""Cooldowns: how often one user may run one command (``on_command(..., cooldown=SECONDS)``).

The state is this process's memory: one host, one table. Several workers on
one database (SPEC §9) each keep their own, so a user who alternates between
them could run a command once per worker per cooldown; sharing it would mean
a row per (command, user) in the storage, written on every use.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from botrt.adapter import ButtonEvent, TextEvent

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.handle._binders import CommandSpec
    from botrt.handle._flow import Flow
    from botrt.handle._texts import Texts

log = logging.getLogger("botrt.dispatch")

_SWEEP_AT = 1024
"""Forget expired entries once the table holds this many more than after the last sweep."""


class Cooldowns:
    """When each (plugin, command, bot, user) may run again, by the dispatcher's clock.

    Attributes:
        clock: seconds on the host's clock (the host gives its own, so tests move it).
    """

    def __init__(self, clock: Callable[[], float], texts: Callable[[], Texts]) -> None:
        self.clock = clock
        self._texts = texts
        self._until: dict[tuple[str, str, str, int], float] = {}
        self._sweep_at = _SWEEP_AT

    async def admit(self, flow: Flow, spec: CommandSpec, event: Event) -> bool:
        """Whether the sender may run `spec` now; if not, tells them when they may."""
        if not isinstance(event, (TextEvent, ButtonEvent)) or spec.cooldown is None:
            return True
        key = (flow.plugin or "", spec.name, event.bot, event.user_id)
        now = self.clock()
        until = self._until.get(key)
        if until is not None and now < until:
            binding = flow.binding
            typed = binding.args(event).command if binding is not None else ""
            text = self._texts().cooldown(typed or spec.name, math.ceil(until - now))
            try:
                await event.reply(text)
            except Exception:
                log.exception("could not tell user %s about the cooldown of %r", key[3], spec.name)
            return False
        self._until[key] = now + spec.cooldown
        if len(self._until) >= self._sweep_at:
            self._until = {k: t for k, t in self._until.items() if t > now}
            self._sweep_at = len(self._until) + _SWEEP_AT
        return True
