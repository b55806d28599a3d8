"""`botrt graph`: Mermaid and DOT output of the seed's 7-node DAG, selection, errors."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

Runner = Callable[..., object]

BOT_TOML = """\
[plugins]
dirs = ["plugins"]
builtin = false
"""

# The seed's DAG, plus a second flow that shares n1 with it, has an isolated node and
# a node whose name needs escaping in both languages: say "hi" & <go> #1 \ end
DAG_PLUGIN = """\
from botrt import PluginPlanner
from botrt.handle import Flow, node


@node
def n1() -> None: ...
@node
def n2() -> None: ...
@node
def n3() -> None: ...
@node
def n4() -> None: ...
@node
def n5() -> None: ...
@node
def n6() -> None: ...
@node
def n7() -> None: ...


@node(name='say "hi" & <go> #1 \\\\ end')
def tricky() -> None: ...


@node(name="lonely one")
def lonely() -> None: ...


test_flow = Flow("test-flow", [n1, n3, n4, n5, n7], [n2, n3, n4], [n4, n6, n7])
other = Flow("other flow", [n1, tricky], [lonely], priority=3)
PLUGIN = PluginPlanner("2.0.0", flows=[test_flow, other])
"""

ECHO_PLUGIN = """\
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command

PLUGIN = PluginPlanner("1.0.0")


@PLUGIN.use
@on_command("echo")
async def echo(event: TextEvent) -> None:
    await event.reply(event.text)
"""

SEED_EDGES = [
    ("n1", "n3"),
    ("n3", "n4"),
    ("n4", "n5"),
    ("n5", "n7"),
    ("n2", "n3"),
    ("n4", "n6"),
    ("n6", "n7"),
]
SEED_NODES = ["n1", "n3", "n4", "n5", "n7", "n2", "n6"]


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def bot(tmp_path: Path) -> Path:
    write(tmp_path / "bot.toml", BOT_TOML)
    write(tmp_path / "plugins" / "dag" / "__plugin__.py", DAG_PLUGIN)
    write(tmp_path / "plugins" / "echo" / "__plugin__.py", ECHO_PLUGIN)
    return tmp_path


class Drawn:
    """One flow as read back from a diagram: title, node labels by id, edges by label."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.labels: dict[str, str] = {}
        self.id_edges: list[tuple[str, str]] = []

    @property
    def nodes(self) -> list[str]:
        return list(self.labels.values())

    @property
    def edges(self) -> list[tuple[str, str]]:
        return [(self.labels[a], self.labels[b]) for a, b in self.id_edges]


def parse_mermaid(text: str) -> list[Drawn]:
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    flows: list[Drawn] = []
    current: Drawn | None = None
    for line in lines[1:]:
        line = line.strip()
        if not line or line.startswith("%%"):
            continue
        if m := re.fullmatch(r'subgraph f\d+\["(.*)"\]', line):
            assert current is None, "subgraphs are not nested"
            current = Drawn(m.group(1))
        elif line == "end":
            assert current is not None
            flows.append(current)
            current = None
        elif m := re.fullmatch(r'(f\d+_n\d+)\["(.*)"\]', line):
            assert current is not None
            current.labels[m.group(1)] = m.group(2)
        elif m := re.fullmatch(r"(f\d+_n\d+) --> (f\d+_n\d+)", line):
            assert current is not None
            current.id_edges.append((m.group(1), m.group(2)))
        else:
            raise AssertionError(f"unexpected Mermaid line: {line!r}")
    assert current is None
    return flows


def parse_dot(text: str) -> list[Drawn]:
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "digraph botrt {"
    assert lines[-1] == "}"
    flows: list[Drawn] = []
    current: Drawn | None = None
    quoted = r'"((?:[^"\\]|\\.)*)"'
    for line in lines[1:-1]:
        if line == "node [shape=box];":
            continue
        if re.fullmatch(r"subgraph cluster_\d+ \{", line):
            current = Drawn("")
        elif m := re.fullmatch(rf"label={quoted};", line):
            assert current is not None
            current.title = m.group(1)
        elif line == "}":
            assert current is not None
            flows.append(current)
            current = None
        elif m := re.fullmatch(rf"(f\d+_n\d+) \[label={quoted}\];", line):
            assert current is not None
            current.labels[m.group(1)] = m.group(2)
        elif m := re.fullmatch(r"(f\d+_n\d+) -> (f\d+_n\d+);", line):
            assert current is not None
            current.id_edges.append((m.group(1), m.group(2)))
        else:
            raise AssertionError(f"unexpected DOT line: {line!r}")
    return flows


def test_mermaid_draws_every_flow_of_every_plugin(botrt: Runner, bot: Path) -> None:
    out = botrt("graph", cwd=bot)
    assert out.returncode == 0, out.stderr
    flows = parse_mermaid(out.stdout)
    assert [f.title for f in flows] == [
        "dag / test-flow",
        "dag / other flow (priority 3)",
        "echo / echo",
    ]
    seed, other, echo = flows
    assert seed.nodes == SEED_NODES
    assert seed.edges == SEED_EDGES  # exactly these, in insertion order
    # Escaped label, the shared node drawn again under an id of its own, the isolated node.
    tricky = "say #quot;hi#quot; #amp; #lt;go#gt; #35;1 \\ end"
    assert other.nodes == ["n1", tricky, "lonely one"]
    assert other.edges == [("n1", tricky)]
    assert echo.nodes == ["echo"]
    assert echo.edges == []
    ids = [set(f.labels) for f in flows]
    assert not ids[0] & ids[1], "node ids are unique per flow"
    assert not ids[1] & ids[2]
    # Deterministic: a second run prints the same bytes.
    assert botrt("graph", cwd=bot).stdout == out.stdout


def test_dot_draws_one_cluster_per_flow(botrt: Runner, bot: Path) -> None:
    out = botrt("graph", "dag", "--format", "dot", cwd=bot)
    assert out.returncode == 0, out.stderr
    flows = parse_dot(out.stdout)
    assert [f.title for f in flows] == ["dag / test-flow", "dag / other flow (priority 3)"]
    seed, other = flows
    assert seed.nodes == SEED_NODES
    assert seed.edges == SEED_EDGES
    tricky = r"say \"hi\" & <go> #1 \\ end"  # quote and backslash escaped
    assert other.nodes == ["n1", tricky, "lonely one"]
    assert other.edges == [("n1", tricky)]
    assert not set(seed.labels) & set(other.labels)


def test_name_selects_a_flow(botrt: Runner, bot: Path) -> None:
    out = botrt("graph", "test-flow", "--config", str(bot / "bot.toml"), cwd=bot.parent)
    assert out.returncode == 0, out.stderr
    flows = parse_mermaid(out.stdout)
    assert [f.title for f in flows] == ["dag / test-flow"]
    assert flows[0].edges == SEED_EDGES


def test_unknown_name_lists_what_exists(botrt: Runner, bot: Path) -> None:
    out = botrt("graph", "nope", cwd=bot)
    assert out.returncode == 1
    assert out.stdout == ""
    assert "no enabled plugin or flow is named 'nope'" in out.stderr
    assert "plugins: dag, echo" in out.stderr
    assert "flows: echo, other flow, test-flow" in out.stderr


def test_a_plugin_that_fails_to_load_is_an_error(botrt: Runner, bot: Path) -> None:
    write(bot / "plugins" / "broken" / "__plugin__.py", "import not_a_module_anywhere\n")
    out = botrt("graph", "--format", "dot", cwd=bot)
    assert out.returncode == 1
    assert out.stdout == ""
    assert "broken" in out.stderr
    assert "__plugin__.py:1" in out.stderr
    assert "ModuleNotFoundError" in out.stderr
