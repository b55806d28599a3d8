"""Event binders: decorators that turn a function into a one-node flow."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botrt.adapter import Event, ScheduleEvent, TextEvent
from botrt.handle._conversation import MAX_STATE
from botrt.handle._flow import Flow
from botrt.handle._node import FlowNode
from botrt.handle._schedule import ScheduleSpec, parse_schedule

if TYPE_CHECKING:
    from botrt.handle._run import FlowRun

_NAME = re.compile(r"^[^\s/\\.][^\s]*$")


class CommandArgs(str):
    """The text after a command word (or a matched prefix), stripped.

    Annotate a handler parameter with it to receive it:
    ``async def echo(e: TextEvent, args: CommandArgs)``. ``args.argv`` is the
    text split on whitespace; ``args.command`` the word the user typed.
    """

    __slots__ = ("command",)

    command: str

    def __new__(cls, rest: str, command: str = "") -> CommandArgs:
        """Make the arguments `rest` of the command word `command`."""
        self = super().__new__(cls, rest)
        self.command = command
        return self

    @property
    def argv(self) -> list[str]:
        """The arguments split on whitespace."""
        return self.split()


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """What `on_command` declares: its names and the text `help` shows.

    Attributes:
        name: the command's name, without a prefix.
        aliases: other names it answers to.
        description: one line for the command list.
        usage: how to call it, for ``help NAME``.
        privileged: only admins may run it.
        cooldown: seconds one user must wait between two runs of it (None: no limit).
    """

    name: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    usage: str = ""
    privileged: bool = False
    cooldown: float | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The name followed by the aliases."""
        return (self.name, *self.aliases)


class Binding:
    """What a binder's flow selects by itself; computes the handler's `CommandArgs`.

    Attributes:
        command: the command (routed by its words), or None.
        prefixes: the prefixes of `on_start_match`.
        schedule: the schedule of `on_schedule`.
        state: the conversation state of `on_state` (routed by the sender's state).
        event_types: the event types the flow takes (None: any).
        match: a further test on an event of those types (None: every one).
    """

    __slots__ = ("command", "event_types", "match", "prefixes", "schedule", "state")

    def __init__(
        self,
        *,
        command: CommandSpec | None = None,
        prefixes: tuple[str, ...] = (),
        schedule: ScheduleSpec | None = None,
        event_types: tuple[type[Event], ...] | None = None,
        match: Callable[[Any], bool] | None = None,
        state: str | None = None,
    ) -> None:
        self.command = command
        self.state = state
        self.prefixes = prefixes
        self.schedule = schedule
        self.event_types = event_types
        self.match = match

    def args(self, event: Event) -> CommandArgs:
        """The arguments `event` carries for this binding."""
        text = event.text if isinstance(event, TextEvent) else ""
        if self.command is not None:
            # Any whitespace ends the command word, as in the dispatcher: "/mb\nHello".
            parts = text.strip().split(None, 1)
            word = parts[0] if parts else ""
            rest = parts[1] if len(parts) > 1 else ""
            return CommandArgs(rest.strip(), word)
        for p in self.prefixes:
            if text.startswith(p):
                return CommandArgs(text[len(p) :].strip(), p)
        return CommandArgs(text.strip(), "")


def command_args_provider(run: FlowRun) -> CommandArgs:
    """Service provider: the `CommandArgs` of the flow's binding for this event."""
    binding = run.flow.binding
    if binding is None:
        return CommandArgs("", "")
    return binding.args(run.event)


def _flow_for(fn: Callable[..., Any], priority: int, binding: Binding | None) -> Flow:
    n = FlowNode(fn)
    flow = Flow(n.name, [n], priority=priority)
    flow.binding = binding
    return flow


def on_command(
    name: str,
    *,
    aliases: Iterable[str] = (),
    description: str = "",
    usage: str = "",
    privileged: bool = False,
    priority: int = 0,
    cooldown: float | None = None,
) -> Callable[[Callable[..., Any]], Flow]:
    """Decorator: a flow that runs on ``<prefix><name or alias>`` followed by a space or the end.

    Prefixes come from ``[bot] prefixes``. The handler may take `CommandArgs`
    for the rest of the text. A privileged command runs only for admins;
    others get a short refusal. With `cooldown`, one user may run the command
    once per that many seconds (by the host's clock); sooner, they are told
    when they may again, in the bot's language, and the handler does not run.
    Attach the flow with ``planner.use``.

    :raises ValueError: if a name is empty, has spaces, or starts with a
        prefix-like character, or `cooldown` is not a positive number.
    """
    names = (name, *aliases)
    for n in names:
        if not isinstance(n, str) or not _NAME.match(n):
            raise ValueError(
                f"on_command: {n!r} is not a valid command name (one word, no prefix: "
                "write 'help', not '/help')"
            )
    if cooldown is not None and (
        isinstance(cooldown, bool) or not isinstance(cooldown, int | float) or not cooldown > 0
    ):
        raise ValueError(f"on_command({name!r}): cooldown is seconds > 0, got {cooldown!r}")
    spec = CommandSpec(
        name.lower(), tuple(a.lower() for a in aliases), description, usage, privileged, cooldown
    )
    return lambda fn: _flow_for(fn, priority, Binding(command=spec))


def on_start_match(
    prefixes: str | Iterable[str], *, priority: int = 0
) -> Callable[[Callable[..., Any]], Flow]:
    """Decorator: a flow that runs on text messages starting with one of `prefixes`.

    The handler may take `CommandArgs` for the text after the prefix.
    """
    ps = (prefixes,) if isinstance(prefixes, str) else tuple(prefixes)

    def decorate(fn: Callable[..., Any]) -> Flow:
        match = lambda e: e.text.startswith(ps)  # noqa: E731
        return _flow_for(fn, priority, Binding(prefixes=ps, event_types=(TextEvent,), match=match))

    return decorate


def on_text(
    predicate: Callable[[str], bool] | None = None, *, priority: int = 0
) -> Callable[[Callable[..., Any]], Flow]:
    """Decorator: a flow that runs on every text message, or those whose text passes `predicate`."""

    def decorate(fn: Callable[..., Any]) -> Flow:
        match = None if predicate is None else lambda e: bool(predicate(e.text))
        return _flow_for(fn, priority, Binding(event_types=(TextEvent,), match=match))

    return decorate


def on_state(state: str, *, priority: int = 0) -> Callable[[Callable[..., Any]], Flow]:
    """Decorator: a flow that runs on a text message from a user whose `Conversation` is in `state`.

    The conversation is the sender's in that chat, for the flow's plugin. Such
    a message is the conversation's: it goes to the state's flows only, not to
    commands or other flows (a cancel word of ``[conversations] cancel``
    clears the state instead). Flows of several states or plugins that take
    one message run by `priority`, highest first. The handler may take
    `CommandArgs` for the whole text, stripped.

    :raises ValueError: if `state` is not a non-empty string of at most 200 characters.
    """
    if not isinstance(state, str) or not state or len(state) > MAX_STATE:
        raise ValueError(
            f"on_state: the state must be a non-empty string of at most {MAX_STATE} "
            f"characters, not {state!r}"
        )
    return lambda fn: _flow_for(fn, priority, Binding(state=state, event_types=(TextEvent,)))


def on_event(*event_types: type[Event], priority: int = 0) -> Callable[[Callable[..., Any]], Flow]:
    """Decorator: a flow that runs on events of the given types (every event when none given).

    :raises TypeError: if a type is not an `Event` subclass.
    """
    for t in event_types:
        if not (isinstance(t, type) and issubclass(t, Event)):
            raise TypeError(f"on_event takes Event subclasses, got {t!r}")

    def decorate(fn: Callable[..., Any]) -> Flow:
        return _flow_for(fn, priority, Binding(event_types=event_types or None))

    return decorate


def on_schedule(
    *,
    at: str | Sequence[str] | None = None,
    days: str | Sequence[str] | None = None,
    every: str | None = None,
    tz: str | None = None,
    priority: int = 0,
) -> Callable[[Callable[..., Any]], Flow]:
    """Decorator: a flow that runs by itself at set times, on a `ScheduleEvent`.

    ``at="08:00"`` or ``at=["08:00", "13:30"]`` (times of day) or
    ``every="15m"`` (``s``/``m``/``h``, slots counted from midnight);
    ``days="mon-fri"``, ``"mon,wed"`` or ``["mon", "wed"]`` (default: every
    day); ``tz`` an IANA zone (default: ``[bot] timezone``). Each slot runs
    once, even across restarts and several processes on one database; a slot
    missed while the bot was down runs late once if within the grace period.
    There is no message to reply to: send through an injected `Messenger`.

    :raises ScheduleError: naming the value that cannot be read.
    """
    spec = parse_schedule(at=at, days=days, every=every, tz=tz)

    def decorate(fn: Callable[..., Any]) -> Flow:
        flow = _flow_for(fn, priority, None)
        flow.binding = Binding(
            schedule=spec, event_types=(ScheduleEvent,), match=lambda e: e.target is flow
        )
        return flow

    return decorate
