"""Delivering an event to a set of flows, by priority tier."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from botrt.adapter import ButtonEvent, TextEvent
from botrt.handle._admission import Admission, IsAdmin
from botrt.handle._ask import Dialogues
from botrt.handle._binders import CommandArgs, command_args_provider
from botrt.handle._conversation import Conversation
from botrt.handle._cooldown import Cooldowns
from botrt.handle._flow import Flow
from botrt.handle._inject import Services
from botrt.handle._middleware import FlowMiddleware
from botrt.handle._routes import Gate, Route, Routes, Tier
from botrt.handle._run import Delivery
from botrt.handle._states import ConversationStates, conversation_provider
from botrt.handle._texts import Texts
from botrt.handle._walk import failure_site

if TYPE_CHECKING:
    from botrt.adapter import Event

log = logging.getLogger("botrt.dispatch")


class Dispatcher:
    """Delivers each event to its flows: higher priority first, one tier at a time.

    Flows of one tier run concurrently; when any of them calls `block()`,
    lower tiers do not see the event. A flow that raises is logged with its
    flow and node name; the other flows and later events carry on. Then
    (`_failed`): `on_error` and `reporter` hear of it, the flow's own
    `error_handlers` may answer it, and otherwise the sender gets
    `error_reply`, once per event however many flows fail.

    Attributes set by the host (a bare dispatcher says nothing on its own):
        error_reply: the text for a failed event (``""``: none), or None.
        unknown_reply: the hint for an unknown command in a private chat
            (``""``: none), or None.
        reporter: told ``(plugin, flow name, node name, event, error)`` of
            every failure (the host's ``botrt_flow_error`` hook).
        texts: the runtime's own texts (cooldowns), in the bot's language.
        cooldowns: the commands' cooldowns, on the host's clock.

    The routes (`_routes`) are built when the set of flows, a flow's
    priority, guard or binding, a gate (`hold`, `release`) or the prefixes
    change, never per event: an event costs one lookup by its first word,
    however many commands there are, and then each flow on its route admits
    it by a check compiled once (`_admission`). An event keeps the routes it
    started with, so a swap of flows (a reload) never splits one event across
    two versions.
    """

    def __init__(
        self,
        flows: Iterable[Flow] = (),
        services: Services | None = None,
        *,
        prefixes: Sequence[str] = ("/",),
        is_admin: IsAdmin | None = None,
        dialogues: Dialogues | None = None,
    ) -> None:
        if services is None:
            services = Services()
        if services.find(CommandArgs) is None:
            services.register(CommandArgs, command_args_provider)
        # The host's durable conversation states (None: no storage, no `Conversation`).
        self.states: ConversationStates | None = None
        if services.find(Conversation) is None:
            services.register(Conversation, conversation_provider(lambda: self.states))
        self.services = services
        # The asks waiting for an answer: `ask()` finds them through the services.
        self.dialogues = dialogues if dialogues is not None else Dialogues()
        self._waiting = self.dialogues.waiting
        services.dialogues = self.dialogues
        self.is_admin = is_admin
        # Called with the flow and the exception when a flow run raises (metrics).
        self.on_error: Callable[[Flow, BaseException], None] | None = None
        self.reporter: Reporter | None = None
        self.error_reply: Callable[[], str] | None = None
        self.unknown_reply: Callable[[], str] | None = None
        self.texts = Texts()
        self.cooldowns = Cooldowns(time.monotonic, lambda: self.texts)
        self._middleware: tuple[FlowMiddleware, ...] = ()
        self._prefixes = tuple(prefixes)
        self._flows: dict[Flow, None] = {}
        self._routes: Routes | None = None
        self._gates: list[Gate] = []
        self.replace((), flows)

    @property
    def flows(self) -> tuple[Flow, ...]:
        """Every flow, in the order it was added."""
        return tuple(self._flows)

    @property
    def middleware(self) -> tuple[FlowMiddleware, ...]:
        """The middleware around every flow's run, outermost first; each flow's own is inside.

        Set by the host from the ``botrt_flow_middleware`` hook; it takes effect
        from the next event (the chains are composed with the routes).
        """
        return self._middleware

    @middleware.setter
    def middleware(self, value: Iterable[FlowMiddleware]) -> None:
        self._middleware = tuple(value)
        self._routes = None

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The command prefixes."""
        return self._prefixes

    @prefixes.setter
    def prefixes(self, value: Sequence[str]) -> None:
        self._prefixes = tuple(value)
        self._routes = None

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
                f.unwatch(self._invalidate)
        for f in new:
            if f not in self._flows:
                self._flows[f] = None
                f.watch(self._invalidate)
        self._routes = None

    @property
    def gates(self) -> tuple[Gate, ...]:
        """The gates closed now (`hold`), oldest first."""
        return tuple(self._gates)

    def hold(self, flows: Iterable[Flow]) -> Gate:
        """Hold back, from the next event on, the events that would reach `flows`.

        For a reload: the plugin's flows stay in place while its versions hand
        over; events that reach them wait at the returned gate until `release`,
        then are delivered afresh. Events already past their lookup run on.
        """
        gate = Gate(flows)
        self._gates.append(gate)
        self._routes = None
        return gate

    def release(self, gate: Gate) -> None:
        """Open `gate`: the events it held are delivered on the routes of now."""
        if gate in self._gates:
            self._gates.remove(gate)
            self._routes = None
        gate.open()

    def _invalidate(self, _flow: Flow) -> None:
        self._routes = None

    def _build_routes(self) -> Routes:
        routes = Routes(
            self._flows,
            self._prefixes,
            self._is_admin,
            self._gates,
            inner=self._middleware,
            cooldowns=self.cooldowns,
        )
        self._routes = routes
        return routes

    async def _is_admin(self, event: Event) -> bool:
        return self.is_admin is not None and await self.is_admin(event)

    async def dispatch(self, event: Event) -> None:
        """Deliver `event` and return when every flow that took it has finished."""
        await self.deliver(event)

    def deliver(self, event: Event) -> Awaitable[object]:
        """What `dispatch` awaits: ``await dispatcher.deliver(event)`` is the same call.

        An event whose route is one flow with nothing to check (one plain
        command, or a bot's single flow) gets the flow run itself as the
        awaitable, and an event no flow takes an awaitable with nothing to do:
        no coroutine of the dispatcher's own per event (the host's hot path).
        The answer to a waiting `ask()` goes to it and to no flow.
        """
        waiting = self._waiting
        if waiting and isinstance(event, TextEvent):
            waiter = waiting.get((event.bot, event.peer_id, event.user_id))
            if waiter is not None:
                return self.dialogues.answer(waiter, event)
        routes = self._routes or self._build_routes()
        states = self.states
        # Only when on_state flows exist: one dict lookup, no query, per message.
        if (
            routes.states
            and states is not None
            and isinstance(event, TextEvent)
            and states.has((event.bot, event.peer_id, event.user_id))
        ):
            return self._deliver_in_state(event, routes, states)
        return self._take(self._route(routes, event), event)

    def _route(self, routes: Routes, event: Event) -> Route:
        by_word = routes.by_word
        if by_word and isinstance(event, TextEvent):
            parts = event.text.split(None, 1)
            word = parts[0].lower() if parts else ""
            route = by_word.get(word)
            if route is not None:
                return route
            if self.unknown_reply is not None and not routes.text_default:
                return self._unknown(word, event, routes)
        return routes.default

    def _unknown(self, word: str, event: TextEvent, routes: Routes) -> Route:
        """`_HINT` for a prefix and a word no command has, in a private chat."""
        if event.peer_id != event.user_id:
            return routes.default  # group chats stay quiet
        for prefix in self._prefixes:
            if word.startswith(prefix) and word[len(prefix) : len(prefix) + 1].isalnum():
                return _HINT
        return routes.default

    def _take(self, route: Route, event: Event) -> Awaitable[object]:
        flow = route.direct
        if flow is not None:
            return route.run(flow, event, Delivery(), self.services, self._failed)
        tiers = route.tiers
        if not tiers:
            gate = route.gate
            if gate is not None:
                return self._after(gate, event)
            return self._hint(event) if route is _HINT else _NOTHING
        return self._deliver(event, tiers)

    async def _hint(self, event: Event) -> None:
        text = self.unknown_reply() if self.unknown_reply is not None else ""
        if text and isinstance(event, TextEvent):
            await _tell(event, text, "the unknown-command hint")

    async def _deliver_in_state(
        self, event: TextEvent, routes: Routes, states: ConversationStates
    ) -> None:
        route = await states.route(event, routes)
        if route is None:
            route = self._route(self._routes or self._build_routes(), event)
        await self._take(route, event)

    async def _after(self, gate: Gate, event: Event) -> None:
        await gate.wait()
        await self.deliver(event)

    async def _deliver(self, event: Event, tiers: Sequence[Tier]) -> None:
        delivery = Delivery()
        for tier in tiers:
            admitted = self._admit_now(tier, event)
            if len(admitted) == 1:
                await self._run(*admitted[0], event, delivery)
            elif admitted:
                async with anyio.create_task_group() as tg:
                    for rule, pending in admitted:
                        tg.start_soon(self._run, rule, pending, event, delivery)
            if delivery.blocked:
                break

    def _admit_now(self, tier: Tier, event: Event) -> list[tuple[Admission, Awaitable[Any] | None]]:
        """The flows of `tier` whose sync checks pass, each with what is left to await."""
        admitted: list[tuple[Admission, Awaitable[Any] | None]] = []
        for rule in tier:
            now = rule.now
            pending = None
            if now is not None:
                try:
                    ok = now(event)
                except Exception as exc:
                    pending = _raise(exc)  # the failure is handled in the flow's own task
                    admitted.append((rule, pending))
                    continue
                if not ok:
                    continue
                if ok is not True and inspect.isawaitable(ok):
                    pending = ok  # a guard declared sync that returned an awaitable
            admitted.append((rule, pending))
        return admitted

    async def _run(
        self, rule: Admission, pending: Awaitable[Any] | None, event: Event, delivery: Delivery
    ) -> None:
        flow = rule.flow
        if pending is None and rule.later is None:
            await rule.run(flow, event, delivery, self.services, self._failed)
            return
        try:
            if pending is not None and not await pending:
                return
            if rule.later is not None and not await rule.later(event):
                return
        except Exception as exc:
            await self._failed(flow, event, exc, delivery)
            return
        await rule.run(flow, event, delivery, self.services, self._failed)

    async def _failed(self, flow: Flow, event: Event, exc: Exception, delivery: Delivery) -> None:
        """Log, count and report a failure; then the flow's handlers, or the sender is told."""
        flow_name, node_name = failure_site(exc) or (flow.name, "(guard)")
        log.error(
            "plugin %r, flow %r, node %r failed on %r: %s: %s",
            flow.plugin or "-",
            flow_name,
            node_name,
            event,
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        if self.on_error is not None:
            self.on_error(flow, exc)
        if self.reporter is not None:
            try:
                self.reporter(flow.plugin, flow_name, node_name, event, exc)
            except Exception:
                log.exception("an error reporter failed on the error of flow %r", flow_name)
        for handler in flow.error_handlers:
            try:
                result = handler(event, exc)
                if inspect.isawaitable(result):
                    await result
            except Exception as again:
                if again is not exc:  # re-raising the error passes it on; anything else is news
                    log.exception(
                        "the error handler %r of plugin %r failed",
                        getattr(handler, "__qualname__", handler),
                        flow.plugin,
                    )
                continue
            return  # handled: the plugin answered (or chose silence)
        if delivery.told or self.error_reply is None:
            return
        delivery.told = True
        text = self.error_reply()
        if text and isinstance(event, TextEvent | ButtonEvent):
            await _tell(event, text, "the error reply")


async def _tell(event: TextEvent | ButtonEvent, text: str, what: str) -> None:
    try:
        await event.reply(text)
    except Exception:
        log.exception("could not send %s to user %s", what, event.user_id)


async def _raise(exc: Exception) -> bool:
    raise exc


Reporter = Callable[[str | None, str, str, "Event", Exception], None]
"""Told of every failure: plugin (None outside plugins), flow name, node name, event, error."""


class _Nothing:
    """An awaitable that is done at once (an event no flow takes)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return iter(())


_NOTHING = _Nothing()
_HINT = Route(())  # the route of an unknown command in a private chat: `_hint`
