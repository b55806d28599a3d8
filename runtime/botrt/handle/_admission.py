"""Admission: whether a flow takes an event, worked out once per flow, not per event.

A flow takes an event when, in this order: the event is of its binder's
types and passes its binder's match (the prefix of `on_start_match`, the
predicate of `on_text`, the slot of `on_schedule`); its guard says yes;
and, for a privileged command, the sender is an admin. `selector` compiles
what the flow decides by itself (used by `flow_to` too); `admission` adds
what the dispatcher holds (privilege). Each yields a sync part, run in the
dispatcher's loop, and an async part, awaited in the flow's own task. (A
reload's gate is not a flow's: it holds whole routes, see `_routes.Gate`.)
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from botrt.adapter import TextEvent
from botrt.handle._walk import run_flow

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.handle._binders import Binding
    from botrt.handle._cooldown import Cooldowns
    from botrt.handle._flow import Flow
    from botrt.handle._middleware import Runner

log = logging.getLogger("botrt.dispatch")

Check = Callable[["Event"], Any]
"""A sync test on an event: truthy to go on (a misdeclared guard may return an awaitable)."""
Wait = Callable[["Event"], Awaitable[Any]]
"""An async test on an event, awaited in the flow's own task."""
IsAdmin = Callable[["Event"], Awaitable[bool]]


def is_async_callable(fn: object) -> bool:
    """Whether calling `fn` returns a coroutine: async functions, methods, callable
    objects with an async ``__call__``, and `functools.partial` of any of them."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    if inspect.isfunction(fn) or inspect.ismethod(fn) or isinstance(fn, type):
        return False
    return callable(fn) and inspect.iscoroutinefunction(type(fn).__call__)  # type: ignore[operator]


class Selector(NamedTuple):
    """What a flow selects by itself: `now` (sync) then `later` (async); None skips a part."""

    now: Check | None
    later: Wait | None


class Admission:
    """How a dispatcher admits an event to `flow`: `now` (sync), then `later` (async).

    `run` is how the admitted flow runs: `run_flow`, or it inside the flow's
    middleware chain (set by the routes).
    """

    __slots__ = ("flow", "later", "now", "run")

    def __init__(self, flow: Flow, now: Check | None, later: Wait | None) -> None:
        self.flow = flow
        self.now = now
        self.later = later
        self.run: Runner = run_flow

    @property
    def free(self) -> bool:
        """Whether every event is admitted without a check."""
        return self.now is None and self.later is None


def selector(binding: Binding | None, guard: Callable[[Event], Any] | None) -> Selector:
    """What a flow selects by itself: its binder's types and match, then its guard."""
    checks: list[Check] = []
    types = binding.event_types if binding is not None else None
    if types:
        checks.append(lambda event: isinstance(event, types))
    if binding is not None and binding.match is not None:
        checks.append(binding.match)
    later: Wait | None = None
    if guard is not None:
        if is_async_callable(guard):
            later = guard
        else:
            checks.append(guard)  # last: what it returns is the result
    return Selector(_all(checks), later)


def admission(flow: Flow, is_admin: IsAdmin, cooldowns: Cooldowns | None = None) -> Admission:
    """Everything that decides whether `flow` takes an event, for a dispatcher.

    After its own selection: the privilege of a privileged command, then the
    cooldown of a command that has one (a refused user starts no cooldown).
    """
    own = flow.selector
    binding = flow.binding
    spec = binding.command if binding is not None and binding.command is not None else None
    later = own.later
    if spec is not None and spec.privileged:
        guard = later

        async def privileged(event: Event) -> bool:
            if guard is not None and not await guard(event):
                return False
            return await _allowed(spec.name, event, is_admin, getattr(flow, "refusal", None))

        later = privileged
    if spec is not None and spec.cooldown is not None and cooldowns is not None:
        before = later
        admit = cooldowns.admit

        async def cooled(event: Event) -> bool:
            if before is not None and not await before(event):
                return False
            return await admit(flow, spec, event)

        later = cooled
    return Admission(flow, own.now, later)


async def passes(rule: Selector, event: Event) -> bool:
    """Whether `event` passes both parts of `rule` (for a sub-flow, awaited inline)."""
    if rule.now is not None:
        ok = rule.now(event)
        if not ok:
            return False
        if ok is not True and inspect.isawaitable(ok) and not await ok:
            return False
    return rule.later is None or bool(await rule.later(event))


def _all(checks: list[Check]) -> Check | None:
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    first, *rest = checks

    def check(event: Event) -> Any:
        ok = first(event)
        for c in rest:
            if not ok:
                return ok
            ok = c(event)
        return ok

    return check


async def _allowed(command: str, event: Event, is_admin: IsAdmin, refusal: Any = None) -> bool:
    if await is_admin(event):
        return True
    if isinstance(event, TextEvent):
        try:
            # `refusal`: the text in the bot's language, lent by the plugin's planner.
            text = refusal(command) if refusal is not None else f"Only admins can use {command}."
            await event.reply(text)
        except Exception:
            log.exception("could not send the refusal for %r", command)
    return False
