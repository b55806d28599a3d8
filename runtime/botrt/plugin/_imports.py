"""``import botrt_plugins.<name>``: one plugin using another's modules, reload-safe.

A plugin's modules live under a namespace that changes with every load
(``_botrt_plugins.<name>__<generation>``). Other plugins import them through
the stable name ``botrt_plugins.<name>.<module>``, which this finder maps to
the running version. Each such import is recorded, so the host reloads the
importer after the plugin it imports.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

from botrt._errors import BotrtError

STABLE_ROOT = "botrt_plugins"


class PluginNotLoadedError(BotrtError, ImportError):
    """Raised when a plugin imports ``botrt_plugins.<name>`` and `name` is not running.

    Attributes:
        plugin: the plugin that is not running (a first load retries the
            importer once it runs).
        name: the module that was imported (as on every `ImportError`).
    """

    def __init__(self, plugin: str, module: str) -> None:
        super().__init__(
            f"cannot import {module}: plugin {plugin!r} is not running "
            "(not found, disabled, or it failed to load)",
            name=module,
        )
        self.plugin = plugin


class _Alias(importlib.abc.Loader):
    """Hands out an already imported module under a second name."""

    def __init__(self, module: types.ModuleType) -> None:
        self._module = module

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self._module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class _Root(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = types.ModuleType(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class PluginImporter(importlib.abc.MetaPathFinder):
    """The meta path finder behind ``botrt_plugins.<name>``.

    `namespace_of(name)` gives the running namespace of a plugin (or None);
    `loading()` the plugin being imported right now (or None), whose
    dependency on `name` is then recorded in `dependencies`.
    """

    def __init__(
        self,
        namespace_of: Callable[[str], str | None],
        loading: Callable[[], str | None],
    ) -> None:
        self._namespace_of = namespace_of
        self._loading = loading
        self.dependencies: dict[str, set[str]] = {}

    def install(self) -> None:
        """Put the finder first on `sys.meta_path` (once)."""
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def uninstall(self) -> None:
        """Take the finder off `sys.meta_path` and forget the stable names."""
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for m in [m for m in sys.modules if m == STABLE_ROOT or m.startswith(STABLE_ROOT + ".")]:
            del sys.modules[m]

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        """Map ``botrt_plugins.<name>.<rest>`` to the running version's module."""
        if fullname == STABLE_ROOT:
            return importlib.machinery.ModuleSpec(fullname, _Root(), is_package=True)
        if not fullname.startswith(STABLE_ROOT + "."):
            return None
        _, name, *rest = fullname.split(".")
        namespace = self._namespace_of(name)
        importer = self._loading()
        if importer is not None and importer != name:
            self.dependencies.setdefault(importer, set()).add(name)
        if namespace is None:
            raise PluginNotLoadedError(name, fullname)
        real = importlib.import_module(".".join([namespace, *rest]))
        return importlib.machinery.ModuleSpec(
            fullname, _Alias(real), is_package=hasattr(real, "__path__")
        )

    def forget(self, name: str) -> None:
        """Drop the stable names of plugin `name`, so the next import sees its new version."""
        prefix = f"{STABLE_ROOT}.{name}"
        for m in [m for m in sys.modules if m == prefix or m.startswith(prefix + ".")]:
            del sys.modules[m]
        root: Any = sys.modules.get(STABLE_ROOT)
        if root is not None and hasattr(root, name):
            delattr(root, name)

    def direct_dependents(self, name: str) -> list[str]:
        """The plugins whose running version imported `name`."""
        return [importer for importer, deps in self.dependencies.items() if name in deps]
