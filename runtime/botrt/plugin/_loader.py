"""Loading one plugin folder: import it into a namespace of its own, then validate it.

The modules' side (the namespace package, importing the files, dropping them)
is `botrt.plugin._modules`; this module turns what went wrong into
`PluginIssue`s and checks the planner and its flows.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from botrt._errors import BotrtError
from botrt.handle import Flow, FlowCycleError
from botrt.handle._internal import EXTENDER, Graph
from botrt.i18n import CatalogError, Translator
from botrt.i18n._internal import LOADING
from botrt.plugin._modules import (
    PLUGIN_FILE,
    Failure,
    auto_import_files,
    drop_modules,
    import_file,
    import_path,
    namespace_for,
    open_namespace,
)
from botrt.plugin._planner import COLLECTING, PluginPlanner


@dataclass(frozen=True, slots=True)
class PluginIssue:
    """One problem found while loading a plugin: where it is and what is wrong.

    ``error`` is the class of the exception behind it, when one was raised
    (``PluginNotLoadedError`` for an import of a plugin that is not running).
    """

    plugin: str
    message: str
    file: str | None = None
    line: int | None = None
    error: type[BaseException] | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        where = self.file or "?"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: plugin {self.plugin!r}: {self.message}"


class PluginLoadError(BotrtError):
    """Raised when one or more plugins cannot load; lists every problem at once.

    Attributes:
        issues: each problem with its file and line where there is one.
    """

    def __init__(self, issues: list[PluginIssue], *, namespace: str | None = None) -> None:
        self.issues = tuple(issues)
        self.namespace = namespace  # the refused load's namespace, to withdraw what it added
        super().__init__("\n".join(str(i) for i in self.issues))


@dataclass(frozen=True, slots=True)
class LoadedPlugin:
    """A plugin imported and validated: its planner and the modules it owns."""

    name: str
    folder: Path
    planner: PluginPlanner
    namespace: str
    generation: int

    @property
    def version(self) -> str:
        """The planner's version."""
        return self.planner.version

    @property
    def flows(self) -> tuple[Flow, ...]:
        """The plugin's flows."""
        return self.planner.flows

    def module_names(self) -> list[str]:
        """The names under which this load's modules sit in `sys.modules`."""
        prefix = self.namespace + "."
        return [m for m in list(sys.modules) if m == self.namespace or m.startswith(prefix)]


def load_plugin(name: str, folder: Path, generation: int) -> LoadedPlugin:
    """Import the plugin in `folder` under a fresh namespace and validate it.

    Synchronous on purpose: no other coroutine can run between the first
    module and the last, so nothing sees a half-imported plugin.

    :raises PluginLoadError: listing every problem: import errors (file and
        line of the last frame inside the plugin), no planner or several,
        cycles.
    """
    folder = folder.resolve()
    plugin_file = folder / PLUGIN_FILE
    if not plugin_file.is_file():
        raise PluginLoadError(
            [PluginIssue(name, f"no {PLUGIN_FILE} in the plugin folder", str(folder))]
        )
    try:
        # Read before any module runs, so every module can reach it (`plugin_translator`).
        translator = Translator.from_folder(folder)
    except CatalogError as exc:
        raise PluginLoadError([PluginIssue(name, exc.detail, str(exc.path), exc.line)]) from None
    ns = namespace_for(name, generation)
    open_namespace(ns, folder)
    failures: list[Failure] = []
    planners = _import_modules(folder, ns, translator, failures)
    issues = [_issue_from(name, folder, path, exc) for path, exc in failures]
    if not issues:
        issues = _planner_issues(name, plugin_file, planners)
    if issues:
        drop_modules(ns)
        raise PluginLoadError(issues, namespace=ns)
    planner = planners[0]
    planner.name = name
    for flow in planner.flows:
        flow.plugin = name
    return LoadedPlugin(name, folder, planner, ns, generation)


def _import_modules(
    folder: Path, ns: str, translator: Translator, failures: list[Failure]
) -> list[PluginPlanner]:
    """Import ``__plugin__.py`` (and, with ``auto_import``, the rest); the planners it made.

    What an import raised goes to `failures`.
    """
    planners: list[PluginPlanner] = []
    saved_alias = sys.modules.get("__plugin__")
    token = COLLECTING.set(planners)
    extender = EXTENDER.set(ns)
    texts = LOADING.set(translator)
    try:
        plugin_module = import_file(folder / PLUGIN_FILE, ns + ".__plugin__", failures)
        if plugin_module is not None:
            # `from __plugin__ import x` in the plugin's other files means this plugin's own.
            sys.modules["__plugin__"] = plugin_module
            if len(planners) == 1 and planners[0].auto_import:
                for path in auto_import_files(folder):
                    import_path(folder, path, ns, failures)
    finally:
        LOADING.reset(texts)
        EXTENDER.reset(extender)
        COLLECTING.reset(token)
        if saved_alias is None:
            sys.modules.pop("__plugin__", None)
        else:
            sys.modules["__plugin__"] = saved_alias
    return planners


def _planner_issues(
    name: str, plugin_file: Path, planners: list[PluginPlanner]
) -> list[PluginIssue]:
    """What is wrong with the planners an import made: none, several, or a cyclic flow."""
    if not planners:
        return [
            PluginIssue(
                name,
                "__plugin__.py creates no PluginPlanner "
                '(add `PLUGIN = PluginPlanner(version="1.0.0")`)',
                str(plugin_file),
            )
        ]
    if len(planners) > 1:
        where = ", ".join(p.location for p in planners)
        return [PluginIssue(name, f"more than one PluginPlanner ({where})", str(plugin_file))]
    return [issue for flow in planners[0].flows for issue in _check_flow(name, flow)]


def unload_modules(plugin: LoadedPlugin) -> None:
    """Drop every module of this load from `sys.modules`, so reloads do not pile up."""
    drop_modules(plugin.namespace)


def _issue_from(name: str, folder: Path, path: Path, exc: BaseException) -> PluginIssue:
    if isinstance(exc, SyntaxError) and exc.filename:
        detail = exc.msg or "invalid syntax"
        return PluginIssue(name, f"SyntaxError: {detail}", exc.filename, exc.lineno, type(exc))
    file, line = str(path), None
    for frame in traceback.extract_tb(exc.__traceback__):
        if _inside(frame.filename, folder):
            file, line = frame.filename, frame.lineno
    if isinstance(exc, FlowCycleError):
        message = f"FlowCycleError: {exc}"
    else:
        message = f"{type(exc).__name__}: {exc}"
    return PluginIssue(name, message, file, line, type(exc))


def _inside(filename: str, folder: Path) -> bool:
    try:
        Path(filename).resolve().relative_to(folder)
    except (ValueError, OSError):
        return False
    return True


def _check_flow(name: str, flow: Flow) -> list[PluginIssue]:
    # Flows refuse cycles as they are built; this re-check guards against graphs
    # assembled by other means, as the contract asks the host to do on every load.
    try:
        Graph((), ()).extended(flow.name, flow.nodes, flow.edges)
    except FlowCycleError as exc:
        return [PluginIssue(name, f"FlowCycleError: {exc}")]
    return []
