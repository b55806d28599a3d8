"""Importing one plugin folder into a module namespace of its own.

Each load gets a fresh package name (``_botrt_plugins.<name>__<generation>``)
whose ``__path__`` is the plugin folder, so relative imports work, two plugins
with same-named modules never collide, and a reload can import the new
version beside the old one before swapping.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import sys
import traceback
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from botrt._errors import BotrtError
from botrt.handle import Flow, FlowCycleError
from botrt.handle._internal import EXTENDER, Graph
from botrt.i18n import CatalogError, Translator
from botrt.i18n._internal import LOADING
from botrt.plugin._planner import COLLECTING, PluginPlanner

NAMESPACE_ROOT = "_botrt_plugins"
PLUGIN_FILE = "__plugin__.py"


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


def namespace_for(name: str, generation: int) -> str:
    """The package name a plugin's modules live under for one load."""
    ident = re.sub(r"\W", "_", name)
    return f"{NAMESPACE_ROOT}.{ident}__{generation}"


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
    # The root must exist too: the import system walks up to it for nested packages.
    if NAMESPACE_ROOT not in sys.modules:
        sys.modules[NAMESPACE_ROOT] = _namespace_module(NAMESPACE_ROOT, None)
    package = types.ModuleType(ns)
    package.__path__ = [str(folder)]
    package.__package__ = ns
    package.__file__ = None
    spec = importlib.machinery.ModuleSpec(ns, None, is_package=True)
    spec.submodule_search_locations = [str(folder)]
    package.__spec__ = spec
    sys.modules[ns] = package

    issues: list[PluginIssue] = []
    planners: list[PluginPlanner] = []
    saved_alias = sys.modules.get("__plugin__")
    token = COLLECTING.set(planners)
    extender = EXTENDER.set(ns)
    texts = LOADING.set(translator)
    try:
        plugin_module = _import_file(name, folder, plugin_file, ns + ".__plugin__", issues)
        if plugin_module is not None:
            # `from __plugin__ import x` in the plugin's other files means this plugin's own.
            sys.modules["__plugin__"] = plugin_module
            if len(planners) == 1 and planners[0].auto_import:
                for path in _auto_import_files(folder):
                    _import_path(name, folder, path, ns, issues)
    finally:
        LOADING.reset(texts)
        EXTENDER.reset(extender)
        COLLECTING.reset(token)
        if saved_alias is None:
            sys.modules.pop("__plugin__", None)
        else:
            sys.modules["__plugin__"] = saved_alias

    if not issues:
        if not planners:
            issues.append(
                PluginIssue(
                    name,
                    "__plugin__.py creates no PluginPlanner "
                    '(add `PLUGIN = PluginPlanner(version="1.0.0")`)',
                    str(plugin_file),
                )
            )
        elif len(planners) > 1:
            where = ", ".join(p.location for p in planners)
            issues.append(
                PluginIssue(name, f"more than one PluginPlanner ({where})", str(plugin_file))
            )
    if not issues:
        planner = planners[0]
        for flow in planner.flows:
            issues.extend(_check_flow(name, flow))
    if issues:
        _drop_modules(ns)
        raise PluginLoadError(issues, namespace=ns)
    planner = planners[0]
    planner.name = name
    for flow in planner.flows:
        flow.plugin = name
    return LoadedPlugin(name, folder, planner, ns, generation)


def unload_modules(plugin: LoadedPlugin) -> None:
    """Drop every module of this load from `sys.modules`, so reloads do not pile up."""
    _drop_modules(plugin.namespace)


def _drop_modules(ns: str) -> None:
    prefix = ns + "."
    for m in [m for m in sys.modules if m == ns or m.startswith(prefix)]:
        del sys.modules[m]


def _auto_import_files(folder: Path) -> Iterator[Path]:
    def skipped(p: Path) -> bool:
        rel = p.relative_to(folder).parts
        return any(part.startswith((".", "__pycache__")) for part in rel)

    files = [p for p in folder.rglob("*.py") if not skipped(p)]
    for p in sorted(files, key=lambda p: p.relative_to(folder).as_posix()):
        if p.parent == folder and p.name == PLUGIN_FILE:
            continue
        yield p


def _import_path(name: str, folder: Path, path: Path, ns: str, issues: list[PluginIssue]) -> None:
    parts = list(path.relative_to(folder).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    # Parent packages first: a real __init__.py when there is one, else an empty namespace.
    for depth in range(1, len(parts)):
        parent_name = ".".join([ns, *parts[:depth]])
        if parent_name in sys.modules:
            continue
        parent_dir = folder.joinpath(*parts[:depth])
        init = parent_dir / "__init__.py"
        if init.is_file():
            if (
                _import_file(name, folder, init, parent_name, issues, package_dir=parent_dir)
                is None
            ):
                return
        else:
            sys.modules[parent_name] = _namespace_module(parent_name, parent_dir)
    mod_name = ".".join([ns, *parts])
    if mod_name in sys.modules:  # already imported by another module's import statement
        return
    _import_file(
        name, folder, path, mod_name, issues, package_dir=path.parent if is_package else None
    )


def _namespace_module(mod_name: str, directory: Path | None) -> types.ModuleType:
    paths = [str(directory)] if directory is not None else []
    module = types.ModuleType(mod_name)
    module.__path__ = paths
    module.__package__ = mod_name
    spec = importlib.machinery.ModuleSpec(mod_name, None, is_package=True)
    spec.submodule_search_locations = paths
    module.__spec__ = spec
    return module


def _import_file(
    name: str,
    folder: Path,
    path: Path,
    mod_name: str,
    issues: list[PluginIssue],
    *,
    package_dir: Path | None = None,
) -> types.ModuleType | None:
    spec = importlib.util.spec_from_file_location(
        mod_name,
        path,
        submodule_search_locations=[str(package_dir)] if package_dir is not None else None,
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # a plugin calling sys.exit() must not end the host
        sys.modules.pop(mod_name, None)
        issues.append(_issue_from(name, folder, path, exc))
        return None
    return module


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
