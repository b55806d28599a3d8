"""`PluginPlanner`: what a plugin's `__plugin__.py` declares."""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

from botrt._errors import BotrtError
from botrt.handle import Flow
from botrt.handle._internal import optional_service
from botrt.i18n import plugin_translator
from botrt.plugin._botinfo import BotInfo
from botrt.plugin._localize import localize_commands, refusal_text

T = TypeVar("T")

# While a plugin's __plugin__.py runs, the loader collects the planners it creates here.
COLLECTING: ContextVar[list[PluginPlanner] | None] = ContextVar(
    "botrt_collecting_planners", default=None
)


class LifecycleError(BotrtError):
    """Raised when an `on_load`/`on_unload` function asks for something botrt cannot give."""


class PluginPlanner:
    """What a plugin is made of: its version, flows, and lifecycle functions.

    Create exactly one in the plugin's ``__plugin__.py``. With
    ``auto_import=True`` every other ``.py`` file of the plugin folder is
    imported after ``__plugin__.py`` (sorted by path), so other files can
    extend the plugin's flows with ``from __plugin__ import some_flow``.

    With ``settings=SomeDataclass`` the plugin declares its settings: each field
    is a key of its ``[plugins.settings.<name>]`` table and its annotation the
    key's type; ``botrt check`` and ``botrt serve`` refuse a table that does not
    match, naming the key (see the configuration guide).

    Attributes:
        version: the plugin's version, shown by ``botrt plugins list`` and reload logs.
        auto_import: import every other module of the folder on load.
        settings: the dataclass declaring the plugin's settings, or None.
        name: the plugin's name (its folder's name), set when it is loaded.
        location: ``file:line`` where the planner was created.
        translator: the plugin's texts in the bot's language, from the
            catalogs in its folder (``locales/<language>/LC_MESSAGES/messages.po``),
            read when it loads and following ``[bot] language`` from its
            `on_load` on; before that, texts stay as written. `gettext`,
            `ngettext`, `pgettext` and `npgettext` are its shortcuts, so a
            module of the plugin can write ``_ = PLUGIN.gettext``.
    """

    def __init__(
        self,
        version: str,
        *,
        flows: Iterable[Flow] = (),
        auto_import: bool = False,
        settings: type | None = None,
    ) -> None:
        if not isinstance(version, str) or not version.strip():
            raise TypeError(
                f"PluginPlanner needs a version string such as '1.0.0', got {version!r}"
            )
        if settings is not None and not (
            isinstance(settings, type) and dataclasses.is_dataclass(settings)
        ):
            raise TypeError(f"PluginPlanner(settings=...) takes a dataclass, got {settings!r}")
        self.version = version
        self.auto_import = bool(auto_import)
        self.settings = settings
        self.name: str | None = None
        # The catalogs the loader read for this plugin; outside a load, none.
        self.translator = plugin_translator()
        caller = sys._getframe(1)
        self.location = f"{caller.f_code.co_filename}:{caller.f_lineno}"
        self._flows: list[Flow] = []
        self._on_load: list[Callable[..., Any]] = []
        self._on_unload: list[Callable[..., Any]] = []
        self._on_error: list[Callable[..., Any]] = []
        self._middleware: list[Callable[..., Any]] = []
        for f in flows:
            self.use(f)
        collecting = COLLECTING.get()
        if collecting is not None:
            collecting.append(self)

    @property
    def flows(self) -> tuple[Flow, ...]:
        """The flows attached so far, in order."""
        return tuple(self._flows)

    def use(self, obj: T) -> T:
        """Attach a flow (from `Flow(...)` or an event binder); returns it, so it decorates.

        :raises TypeError: if `obj` is not a `Flow`.
        """
        if not isinstance(obj, Flow):
            hint = (
                "; decorate the function with an event binder (on_command, ...) first"
                if callable(obj)
                else ""
            )
            raise TypeError(f"planner.use() takes a flow, got {obj!r}{hint}")
        if obj not in self._flows:
            self._flows.append(obj)
        return obj

    def on_load(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Register a sync or async function to run when the plugin loads or reloads.

        Its parameters are filled in by name and annotation: ``previous`` gets
        what the old version's `on_unload` returned (None on a first load);
        parameters annotated with a runtime service (plugin settings,
        storage) get that service.
        """
        self._on_load.append(fn)
        return fn

    def on_unload(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Register a sync or async function to run when the plugin unloads.

        What it returns reaches the next version's `on_load` as ``previous``
        (with several, the last non-None result).
        """
        self._on_unload.append(fn)
        return fn

    def on_error(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Register a sync or async ``fn(event, error)`` for failures of this plugin's flows.

        It runs after the failure is logged and reported, and may answer the
        user (``await event.reply(...)``); then the runtime sends nothing. If
        it raises (re-raising `error` included), the next handler is tried,
        and after the last the user gets ``[bot] error_reply``. What a handler
        raises is logged; it is never handled again. Takes effect when the
        plugin loads.
        """
        self._on_error.append(fn)
        return fn

    def middleware(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Register ``async fn(event, flow, call_next)`` around each run of this plugin's flows.

        ``outcome = await call_next()`` runs the flow and returns how it ended
        (`botrt.handle.Outcome`: ``"ok"``, ``"error"``, ``"blocked"``,
        ``"stopped"``); not calling it skips the flow for that event. Several
        wrap in the order registered (the first outermost), inside the
        middleware of packages (``botrt_flow_middleware``). What it raises is
        a failure of the flow. Takes effect when the plugin loads.
        """
        self._middleware.append(fn)
        return fn

    def gettext(self, message: str) -> str:
        """`message` in the bot's language, from the plugin's catalogs (as written if missing)."""
        return self.translator.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The form of `singular`/`plural` for the number `n`, in the bot's language."""
        return self.translator.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        """`message` in the bot's language, in `context` (``"command"`` for command names)."""
        return self.translator.pgettext(context, message)

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        """`ngettext` with a `context`."""
        return self.translator.npgettext(context, singular, plural, n)

    async def run_on_load(self, previous: Any, services: Mapping[type, Any]) -> None:
        """Bind the translator to the bot's language, then run the `on_load` functions in order.

        First the plugin's flows get its error handlers and middleware.

        Binding also names the plugin's commands in that language (the
        catalog's ``msgctxt "command"`` translations become aliases, see
        `localize_commands`) and gives its flows the refusal of a privileged
        command in it (``flow.refusal``, see `refusal_text`).

        :raises LifecycleError: if a parameter cannot be filled in.
        """
        for flow in self._flows:
            flow.error_handlers = tuple(self._on_error)
            flow.middleware = self._middleware
        info = services.get(BotInfo)
        if isinstance(info, BotInfo):
            self.translator.follow(lambda: info.language)
            localize_commands(self._flows, self.translator)
            refusal = refusal_text(info.translator(), self.translator)
            for flow in self._flows:
                flow.refusal = refusal  # type: ignore[attr-defined]  # read by the dispatcher
        for fn in self._on_load:
            await _call(fn, previous, services)

    async def run_on_unload(self, services: Mapping[type, Any]) -> Any:
        """Run the `on_unload` functions in order; returns the state for the next version.

        :raises LifecycleError: if a parameter cannot be filled in.
        """
        state = None
        for fn in self._on_unload:
            result = await _call(fn, None, services)
            if result is not None:
                state = result
        return state

    def __repr__(self) -> str:
        return f"<PluginPlanner {self.name or '?'} {self.version} flows={len(self._flows)}>"


async def _call(fn: Callable[..., Any], previous: Any, services: Mapping[type, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for p in inspect.signature(fn, eval_str=True).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name == "previous":
            kwargs[p.name] = previous
        elif isinstance(p.annotation, type) and p.annotation in services:
            kwargs[p.name] = services[p.annotation]
        elif (optional := optional_service(p.annotation)) is not None:
            kwargs[p.name] = services.get(optional)  # `Service | None`: None when missing
        elif p.default is p.empty:
            code = getattr(fn, "__code__", None)
            where = f"{code.co_filename}:{code.co_firstlineno}" if code else repr(fn)
            raise LifecycleError(
                f"{getattr(fn, '__name__', fn)} ({where}): cannot fill in parameter {p.name!r}; "
                "lifecycle functions take `previous` and runtime services by annotation"
            )
    result = fn(**kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result
