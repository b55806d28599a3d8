"""Delivering an event to a set of flows, by priority tier."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from botrt.adapter import TextEvent
from botrt.handle._binders import CommandArgs, command_args_provider
from botrt.handle._flow import Flow
from botrt.handle._inject import Services
from botrt.handle._run import Delivery
from botrt.handle._walk import failure_site, run_flow

if TYPE_CHECKING:
    from botrt.adapter import Event
    from botrt.handle._binders import CommandSpec

log = logging.getLogger("botrt.dispatch")

IsAdmin = Callable[["Event"], Awaitable[bool]]
# The tiers by priority; when no tier has flows other than commands, for each
# command word the tiers that hold it, and the words only one plain command takes.
_Table = tuple[tuple["_Tier", ...], dict[str, tuple["_Tier", ...]] | None, dict[str, "Flow"] | None]


class _Tier:
    """The flows of one priority: those with guards, and commands by their words.

    ``direct`` maps a word to the one flow it names when that flow is not
    privileged and the tier has no other flows: the common case, which then
    costs a dict lookup and nothing else.
    """

    __slots__ = ("commands", "direct", "plain", "solo")

    def __init__(self, flows: Sequence[Flow], prefixes: Sequence[str]) -> None:
        plain: list[Flow] = []
        commands: dict[str, list[Flow]] = {}
        for f in flows:
            spec = f.binding.command if f.binding is not None else None
            if spec is None:
                plain.append(f)
                continue
            for prefix in prefixes:
                for name in spec.names:
                    commands.setdefault(prefix + name, []).append(f)
        self.plain = tuple(plain)
        self.commands = {word: tuple(fs) for word, fs in commands.items()}
        self.direct: dict[str, Flow] = {}
        # The tier's only flow when it has no commands (its guard, which may change
        # at any time, is checked per event).
        self.solo = plain[0] if len(plain) == 1 and not commands else None
        if not plain:
            for word, fs in self.commands.items():
                if len(fs) == 1 and not fs[0].binding.command.privileged:  # type: ignore[union-attr]
                    self.direct[word] = fs[0]


class Dispatcher:
    """Delivers each event to its flows: higher priority first, one tier at a time.

    Flows of one tier run concurrently; when any of them calls `block()`,
    lower tiers do not see the event. A flow that raises is logged with its
    flow and node name; the other flows and later events carry on.

    Command flows (`on_command`) are indexed by ``prefix + name`` when the
    flows change, so an event costs one dict lookup per tier however many
    commands there are. The tier table is rebuilt when the set of flows or a
    priority changes, never per event; an event keeps the table it started
    with, so a swap of flows (a reload) never splits one event across two
    versions.
    """

    def __init__(
        self,
        flows: Iterable[Flow] = (),
        services: Services | None = None,
        *,
        prefixes: Sequence[str] = ("/",),
        is_admin: IsAdmin | None = None,
    ) -> None:
        if services is None:
            services = Services()
        if services.find(CommandArgs) is None:
            services.register(CommandArgs, command_args_provider)
        self.services = services
        self.is_admin = is_admin
        # Called with the flow and the exception when a flow run raises (metrics).
        self.on_error: Callable[[Flow, BaseException], None] | None = None
        self._prefixes = tuple(prefixes)
        self._flows: dict[Flow, None] = {}
        self._tiers: _Table | None = None
        self.replace((), flows)

    @property
    def flows(self) -> tuple[Flow, ...]:
        """Every flow, in the order it was added."""
        return tuple(self._flows)

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The command prefixes."""
        return self._prefixes

    @prefixes.setter
    def prefixes(self, value: Sequence[str]) -> None:
        self._prefixes = tuple(value)
        self._tiers = None

    def add(self, flow: Flow) -> None:
        """Start delivering events to `flow` (from the next event on)."""
        self.replace((), (flow,))

    def remove(self, flow: Flow) -> None:
        """Stop delivering events to `flow` (no error when it is not here)."""
        self.replace((flow,), ())

    def replace(self, old: Iterable[Flow], new: Iterable[Flow]) -> None:
        """Remove `old` and add `new` in one step: no event sees half of the change.

        :raises TypeError: if something in `new` is not a `Flow`.
        """
        new = tuple(new)
        for f in new:
            if not isinstance(f, Flow):
                raise TypeError(f"a dispatcher takes flows, got {f!r}")
        for f in old:
            if f in self._flows:
                del self._flows[f]
                f.unwatch_priority(self._invalidate)
        for f in new:
            if f not in self._flows:
                self._flows[f] = None
                f.watch_priority(self._invalidate)
        self._tiers = None

    def _invalidate(self, _flow: Flow) -> None:
        self._tiers = None

    def _build_tiers(self) -> _Table:
        by_priority: dict[int, list[Flow]] = {}
        for f in self._flows:
            by_priority.setdefault(f.priority, []).append(f)
        tiers = tuple(
            _Tier(by_priority[p], self._prefixes) for p in sorted(by_priority, reverse=True)
        )
        by_word: dict[str, tuple[_Tier, ...]] | None = None
        fast: dict[str, Flow] | None = None
        if not any(t.plain for t in tiers):
            # Only commands: an event can only reach the tiers holding its word.
            found: dict[str, list[_Tier]] = {}
            for t in tiers:
                for word in t.commands:
                    found.setdefault(word, []).append(t)
            by_word = {word: tuple(ts) for word, ts in found.items()}
            fast = {
                word: ts[0].direct[word]
                for word, ts in by_word.items()
                if len(ts) == 1 and word in ts[0].direct
            }
        table = self._tiers = (tiers, by_word, fast)
        return table

    async def dispatch(self, event: Event) -> None:
        """Deliver `event` and return when every flow that took it has finished."""
        await self.deliver(event)

    def deliver(self, event: Event) -> Awaitable[None]:
        """What `dispatch` awaits: ``await dispatcher.deliver(event)`` is the same call.

        The usual event, one plain command (or the one flow of a bot that has a
        single flow for every event), gets the flow run itself as the awaitable,
        and an event no flow takes an awaitable with nothing to do: no coroutine
        of the dispatcher's own per event (the host's hot path).
        """
        tiers, by_word, fast = self._tiers or self._build_tiers()
        word: str | None = None
        if by_word is not None:
            # `_command_word`, inline: this runs for every event.
            if isinstance(event, TextEvent):
                parts = event.text.split(None, 1)
                word = parts[0].lower() if parts else ""
            else:
                word = ""
            flow = fast.get(word)  # type: ignore[union-attr]  # (set with by_word)
            if flow is not None and flow.gate is None and not flow._guard_is_async:
                # What `_run` does, without its coroutine: nothing to wait for first.
                return run_flow(flow, event, Delivery(), self.services, self._failed)
            only = by_word.get(word)
            if only is None:
                return _NOTHING  # no flow takes this word, and no flow takes every event
            tiers = only
        elif len(tiers) == 1:
            solo = tiers[0].solo
            if solo is not None and solo._guard is None and solo.gate is None:
                return run_flow(solo, event, Delivery(), self.services, self._failed)
        return self._deliver(event, tiers, word)

    async def _deliver(self, event: Event, tiers: Sequence[_Tier], word: str | None) -> None:
        delivery = Delivery()
        for tier in tiers:
            if tier.commands:
                if word is None:
                    word = _command_word(event)
                direct = tier.direct.get(word)
                if direct is not None:  # one plain command, no guarded flows: no list, no checks
                    if direct.gate is None and not direct._guard_is_async:
                        # What `_run` does, without its coroutine: nothing to wait for first.
                        await run_flow(direct, event, delivery, self.services, self._failed)
                    else:
                        await self._run(direct, event, delivery)
                    if delivery.blocked:
                        break
                    continue
                matched = tier.commands.get(word)
                if matched is None and not tier.plain:
                    continue
            else:
                matched = None
            runnable: list[Flow] = []
            if matched:
                for f in matched:
                    if await self._allowed(f, event):
                        runnable.append(f)
            for f in tier.plain:
                guard = f._guard
                if guard is None or f._guard_is_async:
                    runnable.append(f)
                    continue
                try:
                    ok = guard(event)
                except Exception:
                    log.exception("flow %r: guard failed on %r", f.name, event)
                    continue
                if ok:
                    runnable.append(f)
            if len(runnable) == 1:
                await self._run(runnable[0], event, delivery)
            elif runnable:
                async with anyio.create_task_group() as tg:
                    for f in runnable:
                        tg.start_soon(self._run, f, event, delivery)
            if delivery.blocked:
                break

    async def _allowed(self, flow: Flow, event: Event) -> bool:
        spec: CommandSpec = flow.binding.command  # type: ignore[union-attr, assignment]
        if not spec.privileged:
            return True
        if self.is_admin is not None and await self.is_admin(event):
            return True
        if isinstance(event, TextEvent):
            try:
                await event.reply(f"Only admins can use {spec.name}.")
            except Exception:
                log.exception("could not send the refusal for %r", spec.name)
        return False

    async def _run(self, flow: Flow, event: Event, delivery: Delivery) -> None:
        try:
            if flow.gate is not None:
                await flow.gate.wait()
                if flow.retired:
                    return
            if flow._guard_is_async and not await flow.guard_passes(event):
                return
            await run_flow(flow, event, delivery, self.services)
        except Exception as exc:
            self._failed(flow, event, exc)

    def _failed(self, flow: Flow, event: Event, exc: Exception) -> None:
        flow_name, node_name = failure_site(exc) or (flow.name, "(guard)")
        log.error(
            "flow %r, node %r failed on %r: %s: %s",
            flow_name,
            node_name,
            event,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        if self.on_error is not None:
            self.on_error(flow, exc)


class _Nothing:
    """An awaitable that is done at once (an event no flow takes)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())


_NOTHING = _Nothing()


def _command_word(event: Event) -> str:
    """The first word of a text event, lower-cased ('' for other events)."""
    if not isinstance(event, TextEvent):
        return ""
    parts = event.text.split(None, 1)
    return parts[0].lower() if parts else ""
