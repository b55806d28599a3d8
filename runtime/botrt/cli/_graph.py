"""`botrt graph [NAME] [--format mermaid|dot]`: print the DAG of flows as a diagram.

Every flow becomes its own subgraph (Mermaid) or cluster (DOT). Node ids are made
per flow from positions (``f0_n3``), never from names: one node object may sit in
several flows, and names may hold spaces, quotes or nothing usable as an id. The
output depends only on the plugins' code (discovery order, flows in the order they
were attached, nodes and edges in insertion order), so it can be committed and diffed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botrt.cli._check import load_enabled
from botrt.cli._common import read_config
from botrt.cli._words import count

if TYPE_CHECKING:
    # Imported where used instead: see `botrt.cli._check`.
    from botrt.config import BotConfig
    from botrt.handle import Flow

FORMATS = ("mermaid", "dot")


@dataclass(frozen=True, slots=True)
class FlowView:
    """A flow to draw, with the plugin it belongs to (and that plugin's version)."""

    plugin: str
    version: str
    flow: Flow

    @property
    def title(self) -> str:
        """The subgraph's caption: ``plugin / flow``, and the priority unless 0."""
        title = f"{self.plugin} / {self.flow.name}"
        if self.flow.priority:
            title += f" (priority {self.flow.priority})"
        return title


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register the command."""
    p = sub.add_parser(
        "graph",
        help="print the DAG of every flow (or of one plugin or flow)",
        description="Print the flows of the enabled plugins as a Mermaid or Graphviz DOT "
        "diagram. NAME selects the flows of the plugin called NAME and the flows called NAME.",
    )
    p.add_argument("name", nargs="?", metavar="NAME", help="a plugin name or a flow name")
    p.add_argument(
        "--format", choices=FORMATS, default="mermaid", help="diagram language (default: mermaid)"
    )
    p.add_argument("--config", default=None, help="the bot.toml to read (default: ./bot.toml)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the diagram; 1 if the config or a plugin fails to load, or NAME matches nothing."""
    from botrt.plugin._internal import unload_modules

    config = read_config(args.config)
    if config is None:
        return 1
    loaded, issues = load_enabled(config)
    try:
        if issues:
            print(f"botrt graph: {count(len(issues), 'error')} loading plugins:", file=sys.stderr)
            for issue in issues:
                print(f"  {issue}", file=sys.stderr)
            print("(botrt check lists the same errors)", file=sys.stderr)
            return 1
        views = [FlowView(p.name, p.version, f) for p in loaded for f in p.flows]
        if args.name is not None:
            selected = [v for v in views if args.name in (v.plugin, v.flow.name)]
            # A loaded plugin without flows is a valid choice: its diagram is empty.
            if not selected and args.name not in {p.name for p in loaded}:
                print(_unknown(args.name, views, config), file=sys.stderr)
                return 1
            views = selected
        render = render_dot if args.format == "dot" else render_mermaid
        sys.stdout.write(render(views))
        return 0
    finally:
        for plugin in loaded:
            unload_modules(plugin)


def _unknown(name: str, views: Sequence[FlowView], config: BotConfig) -> str:
    """The message for a NAME that matches nothing: why, and what exists instead."""
    from botrt.config import is_plugin_enabled
    from botrt.plugin._internal import builtin_plugins_dir, discover

    found = discover(config.plugins.dirs, builtin_plugins_dir() if config.plugins.builtin else None)
    if name in found:
        return (
            f"botrt graph: plugin {name!r} is not enabled in {_config_name(config)}; "
            f"enable it with: botrt plugins enable {name}"
        )
    # An enabled plugin without flows is still a name the user may have meant.
    plugins = sorted(n for n in found if is_plugin_enabled(config, n))
    flows = sorted({v.flow.name for v in views})
    return (
        f"botrt graph: no enabled plugin or flow is named {name!r}\n"
        f"  plugins: {', '.join(plugins) or '(none)'}\n"
        f"  flows: {', '.join(flows) or '(none)'}"
    )


def _config_name(config: BotConfig) -> str:
    return str(config.path) if config.path is not None else "bot.toml"


# -- Mermaid ---------------------------------------------------------------------------

# Characters that would end a quoted label or be read as markup, as Mermaid entity codes.
_MERMAID_ESCAPES = {
    '"': "#quot;",
    "#": "#35;",
    "<": "#lt;",
    ">": "#gt;",
    "&": "#amp;",
    "`": "#96;",
}


def mermaid_label(text: str) -> str:
    """`text` as a quoted Mermaid label: entity codes for markup, spaces for line breaks."""
    out = []
    for ch in text:
        if ch in _MERMAID_ESCAPES:
            out.append(_MERMAID_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        else:  # a newline or other control character would break the statement
            out.append(" ")
    return '"' + "".join(out) + '"'


def render_mermaid(views: Sequence[FlowView]) -> str:
    """A Mermaid ``flowchart TD`` with one subgraph per flow; ends with a newline."""
    lines = ["flowchart TD"]
    if not views:
        lines.append("    %% no flows")
    for i, view in enumerate(views):
        ids = _node_ids(i, view.flow)
        lines.append(f"    %% plugin {view.plugin} {view.version}, flow {view.flow.name}")
        lines.append(f"    subgraph f{i}[{mermaid_label(view.title)}]")
        # Every node is declared, so nodes without edges (isolated ones) appear too.
        lines.extend(f"        {ids[n]}[{mermaid_label(n.name)}]" for n in view.flow.nodes)
        lines.extend(f"        {ids[a]} --> {ids[b]}" for a, b in view.flow.edges)
        lines.append("    end")
    return "\n".join(lines) + "\n"


# -- DOT -------------------------------------------------------------------------------


def dot_string(text: str) -> str:
    """`text` as a quoted DOT string; backslashes stay literal in Graphviz labels."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    return f'"{escaped}"'


def render_dot(views: Sequence[FlowView]) -> str:
    """A Graphviz ``digraph botrt`` with one ``cluster_N`` subgraph per flow."""
    lines = ["digraph botrt {", "    node [shape=box];"]
    for i, view in enumerate(views):
        ids = _node_ids(i, view.flow)
        lines.append(f"    subgraph cluster_{i} {{")
        lines.append(f"        label={dot_string(view.title)};")
        lines.extend(f"        {ids[n]} [label={dot_string(n.name)}];" for n in view.flow.nodes)
        lines.extend(f"        {ids[a]} -> {ids[b]};" for a, b in view.flow.edges)
        lines.append("    }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _node_ids(flow_index: int, flow: Flow) -> dict[object, str]:
    # By position in this flow: unique within the diagram even when flows share nodes.
    return {n: f"f{flow_index}_n{j}" for j, n in enumerate(flow.nodes)}
