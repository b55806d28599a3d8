"""Delivering an event to a set of flows, by priority tier.

`Dispatcher` holds the per-event path (`deliver`: the lookup, then the
admitted flows); its bases keep the rest: `_flowset.FlowSet` the flows, gates
and routes, `_failures.Failures` what happens when a flow fails.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from botrt.adapter import TextEvent
from botrt.handle._admission import Admission, IsAdmin
from botrt.handle._ask import Dialogues
from botrt.handle._binders import CommandArgs, command_args_provider
from botrt.handle._conversation import Conversation
from botrt.handle._cooldown import Cooldowns
from botrt.handle._done import DONE
from botrt.handle._failures import Failures, Reporter, tell
from botrt.handle._flow import Flow
from botrt.handle._flowset import FlowSet
from botrt.handle._inject import Services
from botrt.handle._middleware import FlowMiddleware
from botrt.handle._routes import Gate, Route, Routes, Tier
from botrt.handle._run import Delivery
from botrt.handle._states import ConversationStates, conversation_provider
from botrt.handle._texts import Texts

if TYPE_CHECKING:
    from botrt.adapter import Event


class Dispatcher(FlowSet, Failures):
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
        # Bound once: every flow run is handed it, and a waiting run keeps it.
        self._fail = self._failed
        self._middleware: tuple[FlowMiddleware, ...] = ()
        self._prefixes = tuple(prefixes)
        self._flows: dict[Flow, None] = {}
        self._routes: Routes | None = None
        self._gates: list[Gate] = []
        self.replace((), flows)

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
            waiter = waiting.pop((event.bot, event.peer_id, event.user_id), None)
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
            return route.run(flow, event, Delivery(), self.services, self._fail)
        tiers = route.tiers
        if not tiers:
            gate = route.gate
            if gate is not None:
                return self._after(gate, event)
            return self._hint(event) if route is _HINT else DONE
        return self._deliver(event, tiers)

    async def _hint(self, event: Event) -> None:
        text = self.unknown_reply() if self.unknown_reply is not None else ""
        if text and isinstance(event, TextEvent):
            await tell(event, text, "the unknown-command hint")

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
            await rule.run(flow, event, delivery, self.services, self._fail)
            return
        try:
            if pending is not None and not await pending:
                return
            if rule.later is not None and not await rule.later(event):
                return
        except Exception as exc:
            await self._fail(flow, event, exc, delivery)
            return
        await rule.run(flow, event, delivery, self.services, self._fail)


async def _raise(exc: Exception) -> bool:
    raise exc


_HINT = Route(())  # the route of an unknown command in a private chat: `_hint`
