"""A plugin load's modules in `sys.modules`: its namespace package, its files, their removal.

Each load gets a fresh package name (``_botrt_plugins.<name>__<generation>``)
whose ``__path__`` is the plugin folder, so relative imports work, two plugins
with same-named modules never collide, and a reload can import the new
version beside the old one before swapping. What a plugin's import raised is
collected as a `Failure`, never raised: the loader reports them all at once.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

NAMESPACE_ROOT = "_botrt_plugins"
PLUGIN_FILE = "__plugin__.py"

Failure = tuple[Path, BaseException]
"""A file whose import raised, and what it raised."""


def namespace_for(name: str, generation: int) -> str:
    """The package name a plugin's modules live under for one load."""
    ident = re.sub(r"\W", "_", name)
    return f"{NAMESPACE_ROOT}.{ident}__{generation}"


def open_namespace(ns: str, folder: Path) -> None:
    """Make `ns` the package of `folder` in `sys.modules`, so its modules import under it."""
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


def drop_modules(ns: str) -> None:
    """Remove the package `ns` and every module under it from `sys.modules`."""
    prefix = ns + "."
    for m in [m for m in sys.modules if m == ns or m.startswith(prefix)]:
        del sys.modules[m]


def auto_import_files(folder: Path) -> Iterator[Path]:
    """Each ``.py`` file in `folder` but ``__plugin__.py`` and hidden folders, in path order."""

    def skipped(p: Path) -> bool:
        rel = p.relative_to(folder).parts
        return any(part.startswith((".", "__pycache__")) for part in rel)

    files = [p for p in folder.rglob("*.py") if not skipped(p)]
    for p in sorted(files, key=lambda p: p.relative_to(folder).as_posix()):
        if p.parent == folder and p.name == PLUGIN_FILE:
            continue
        yield p


def import_path(folder: Path, path: Path, ns: str, failures: list[Failure]) -> None:
    """Import the file `path` of `folder` as its module under `ns`, parent packages first."""
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
            if import_file(init, parent_name, failures, package_dir=parent_dir) is None:
                return
        else:
            sys.modules[parent_name] = _namespace_module(parent_name, parent_dir)
    mod_name = ".".join([ns, *parts])
    if mod_name in sys.modules:  # already imported by another module's import statement
        return
    import_file(path, mod_name, failures, package_dir=path.parent if is_package else None)


def import_file(
    path: Path, mod_name: str, failures: list[Failure], *, package_dir: Path | None = None
) -> types.ModuleType | None:
    """Run `path` as module `mod_name`; None (the failure recorded) if it raised."""
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
        failures.append((path, exc))
        return None
    return module


def _namespace_module(mod_name: str, directory: Path | None) -> types.ModuleType:
    paths = [str(directory)] if directory is not None else []
    module = types.ModuleType(mod_name)
    module.__path__ = paths
    module.__package__ = mod_name
    spec = importlib.machinery.ModuleSpec(mod_name, None, is_package=True)
    spec.submodule_search_locations = paths
    module.__spec__ = spec
    return module
