"""The set of plugins a bot runs: finding folders, command tables, clash checks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from botrt.handle import CommandSpec, Flow
from botrt.handle._internal import uninjectable
from botrt.i18n import Translator
from botrt.plugin._loader import LoadedPlugin, PluginIssue
from botrt.plugin._modules import PLUGIN_FILE


@dataclass(frozen=True, slots=True)
class CommandInfo:
    """A command as other plugins see it (help lists these).

    Attributes:
        plugin: the plugin that declares it.
        spec: its names, description, usage and whether it is privileged.
        location: ``file:line`` of its handler.
        translator: the declaring plugin's translator: its description and
            usage are texts of that plugin, translated with its catalogs.
    """

    plugin: str
    spec: CommandSpec
    location: str
    translator: Translator | None = None

    @property
    def name(self) -> str:
        """The command's name."""
        return self.spec.name


def commands_of(plugin: LoadedPlugin) -> list[CommandInfo]:
    """Every command a plugin declares, in the order its flows were attached."""
    out = []
    for flow in plugin.flows:
        spec = flow.binding.command if flow.binding is not None else None
        if spec is not None:
            out.append(CommandInfo(plugin.name, spec, _location(flow), plugin.planner.translator))
    return out


def _location(flow: Flow) -> str:
    return flow.nodes[0].location if flow.nodes else "?"


class CommandCatalog:
    """Every command of the running plugins, live: it reflects loads, reloads and unloads.

    Plugins receive it by injection (annotate a parameter with
    `CommandCatalog`); `help` is built on it.
    """

    def __init__(
        self,
        source: Callable[[], Iterable[LoadedPlugin]],
        prefixes: Callable[[], Sequence[str]] = lambda: ("/",),
    ) -> None:
        self._source = source
        self._prefixes = prefixes

    @property
    def prefixes(self) -> tuple[str, ...]:
        """The command prefixes from ``[bot] prefixes``, the first one the usual."""
        return tuple(self._prefixes())

    def all(self) -> list[CommandInfo]:
        """Every command, grouped by plugin in load order."""
        return [c for p in self._source() for c in commands_of(p)]

    def find(self, name: str) -> CommandInfo | None:
        """The command called `name` or with `name` as an alias (prefix ignored), or None."""
        wanted = name.lower()
        for c in self.all():
            if wanted in c.spec.names:
                return c
        return None

    def plugins(self) -> list[tuple[str, str]]:
        """(name, version) of every running plugin."""
        return [(p.name, p.version) for p in self._source()]


def find_clashes(plugins: Sequence[LoadedPlugin]) -> list[PluginIssue]:
    """Every command name or alias claimed twice, within a plugin or across plugins."""
    owners: dict[str, CommandInfo] = {}
    issues = []
    for p in plugins:
        for c in commands_of(p):
            for word in c.spec.names:
                first = owners.get(word)
                if first is None:
                    owners[word] = c
                    continue
                file, _, line = c.location.rpartition(":")
                issues.append(
                    PluginIssue(
                        p.name,
                        f"command name {word!r} is already taken by plugin {first.plugin!r} "
                        f"({first.location})",
                        file or None,
                        int(line) if line.isdigit() else None,
                    )
                )
    return issues


def find_uninjectable(
    plugins: Sequence[LoadedPlugin], known: Callable[[type], bool] = lambda kind: False
) -> list[PluginIssue]:
    """Every node parameter of `plugins`' flows that nothing can be injected into.

    `known` says which other classes the host provides as services.
    """
    issues = []
    for p in plugins:
        for flow in p.flows:
            for n in flow.nodes:
                for _param, message in uninjectable(n, known):
                    file, _, line = n.location.rpartition(":")
                    issues.append(
                        PluginIssue(
                            p.name,
                            f"flow {flow.name!r}, {message}",
                            file or None,
                            int(line) if line.isdigit() else None,
                        )
                    )
    return issues


def discover(dirs: Sequence[Path], builtin: Path | None) -> dict[str, Path]:
    """Plugin folders by name: earlier `dirs` win over later ones, and all over `builtin`.

    A plugin folder is a directory holding ``__plugin__.py``.
    """
    found: dict[str, Path] = {}
    for d in [*dirs, *([builtin] if builtin is not None else [])]:
        if not d.is_dir():
            continue
        for child in sorted(d.iterdir()):
            if child.is_dir() and (child / PLUGIN_FILE).is_file():
                found.setdefault(child.name, child.resolve())
    return found


def builtin_plugins_dir() -> Path | None:
    """The built-in plugins shipped with botrt (the repository's ``plugins/`` folder)."""
    import botrt

    package = Path(botrt.__file__).resolve().parent
    for candidate in (package / "_builtin_plugins", package.parents[1] / "plugins"):
        if candidate.is_dir():
            return candidate
    return None


class PluginSettings(Mapping[str, object]):
    """A plugin's own settings: its ``[plugins.settings.<name>]`` table, read-only.

    Plugins receive it by injection (annotate a parameter with
    `PluginSettings`); it reflects ``bot.toml`` edits on the next event.
    """

    __slots__ = ("_data", "plugin")

    def __init__(self, plugin: str, data: Mapping[str, object]) -> None:
        self.plugin = plugin
        self._data = dict(data)

    def __getitem__(self, key: str) -> object:
        return self._data[key]

    def __iter__(self):  # type: ignore[no-untyped-def]  # noqa: ANN204
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"PluginSettings({self.plugin!r}, {self._data!r})"
