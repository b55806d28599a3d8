"""Dispatch throughput: botrt beside melobot, vkbottle and a bare asyncio floor.

Run: ``.venv/bin/python benchmarks/dispatch.py [--trials 5] [--workloads abc]``
(writes the ``dispatch`` section of docs/benchmarks.md; installs the peers into
``benchmarks/.venvs/`` on first use).

The workload (``_workload.py``): 20,000 pre-built text events, event i is
``/cmd{i % 50:02d}``, fed one after another, 50-event warm-up, every handler
replies once into an in-memory stub. (a) one flow shaped as the seed's 7-node
DAG, (b) 50 command flows, (c) the same over 5 priority tiers.

Every trial is a fresh interpreter; trials go round-robin over the contenders
(trial 1 of each, then trial 2 of each, ...), so a busy spell on the machine
hits them alike; the figure is the median. Each driver's docstring says which
entry point it drives and which seam it stubs:

- ``drivers/botrt_dispatch.py``: ``Host.handle`` over a plugin folder, metrics
  on (the figure compared), the adapter path through ``Host.submit`` and the queue, and
  a bare ``Dispatcher.dispatch``;
- ``peers/melobot_dispatch.py``: the adapter input loop's tail,
  ``Dispatcher.broadcast`` + ``bot.wait_finish``, console protocol;
- ``peers/vkbottle_dispatch.py``: ``bot.process_event(update)``, as
  ``run_polling`` does per update;
- ``drivers/floor_dispatch.py``: a dict lookup and an awaited handler.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import BOTRT_PYTHON, load_line, median, peer_python, run_driver
from _report import machine_line, write_section
from _workload import EVENTS, WARMUP

TITLES = {
    "a": "(a) one flow, the seed's 7-node DAG (14 node runs per event)",
    "b": "(b) 50 command flows, each event matches one",
    "c": "(c) 50 command flows over 5 priority tiers",
}


@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    kind: str  # "botrt" (the figure compared), "botrt-extra", "peer" or "floor"
    venv: str  # "botrt" or a peer's name
    script: str
    args: tuple[str, ...] = ()

    def python(self) -> str:
        return BOTRT_PYTHON if self.venv == "botrt" else peer_python(self.venv)


def contenders(workload: str, peers: bool) -> list[Contender]:
    w = ("--workload", workload)
    botrt = "drivers/botrt_dispatch.py"
    melobot = "peers/melobot_dispatch.py"
    out = [
        Contender(
            "botrt",
            "botrt `Host.handle` (plugin)",
            "botrt",
            "botrt",
            botrt,
            (*w, "--variant", "host"),
        ),
        Contender(
            "botrt-queue",
            "botrt `Host.submit` → queue → lane",
            "botrt-extra",
            "botrt",
            botrt,
            (*w, "--variant", "queue"),
        ),
        Contender(
            "botrt-dispatcher",
            "botrt bare `Dispatcher.dispatch`",
            "botrt-extra",
            "botrt",
            botrt,
            (*w, "--variant", "dispatcher"),
        ),
    ]
    if peers and workload == "a":
        out.append(Contender("melobot", "melobot 3.5.1 (`Flow`)", "peer", "melobot", melobot, w))
    elif peers:
        out += [
            Contender(
                "melobot",
                "melobot 3.5.1 (`on_command`)",
                "peer",
                "melobot",
                melobot,
                (*w, "--variant", "command"),
            ),
            Contender(
                "melobot-start",
                "melobot 3.5.1 (`on_start_match`)",
                "peer",
                "melobot",
                melobot,
                (*w, "--variant", "start"),
            ),
            Contender(
                "vkbottle",
                "vkbottle 4.11.0 (`on.message(text=...)`)",
                "peer",
                "vkbottle",
                "peers/vkbottle_dispatch.py",
                w,
            ),
        ]
    out.append(
        Contender(
            "floor", "floor: bare asyncio loop", "floor", "botrt", "drivers/floor_dispatch.py", w
        )
    )
    return out


Figures = dict[str, dict[str, list[float]]]


def measure(workloads: str, trials: int, events: int, peers: bool) -> Figures:
    plan = {w: contenders(w, peers) for w in workloads}
    figures: Figures = {w: {c.key: [] for c in cs} for w, cs in plan.items()}
    for trial in range(1, trials + 1):
        for w, cs in plan.items():
            for c in cs:
                result = run_driver(c.python(), c.script, (*c.args, "--events", str(events)))
                figures[w][c.key].append(result["events_per_s"])
                print(
                    f"trial {trial}/{trials} ({w}) {c.label}: {result['events_per_s']:,.0f} ev/s",
                    file=sys.stderr,
                    flush=True,
                )
    return figures


def table(workload: str, figures: dict[str, list[float]], peers: bool) -> str:
    cs = {c.key: c for c in contenders(workload, peers)}
    med = {k: median(v) for k, v in figures.items()}
    botrt, floor = med["botrt"], med["floor"]
    peer_keys = [k for k in med if cs[k].kind == "peer"]
    rows = [
        "| contender | events/s (median) | trials | botrt ÷ this |",
        "| --- | ---: | --- | ---: |",
    ]
    for k, v in med.items():
        spread = ", ".join(f"{x:,.0f}" for x in figures[k])
        ratio = "—" if k == "botrt" else f"{botrt / v:.2f}×"
        rows.append(f"| {cs[k].label} | {v:,.0f} | {spread} | {ratio} |")
    lines = [f"### {TITLES[workload]}", "", *rows, ""]
    if peer_keys:
        fastest = max(peer_keys, key=lambda k: med[k])
        vs_peer = botrt / med[fastest]
        mark = "met" if vs_peer >= 3 else "**missed**"
        lines.append(
            f"- botrt ÷ fastest peer ({cs[fastest].label}): **{vs_peer:.1f}×** "
            f"(target ≥ 3×: {mark})"
        )
    vs_floor = floor / botrt
    mark = "met" if vs_floor <= 3 else "**missed**"
    lines.append(f"- floor ÷ botrt: **{vs_floor:.1f}×** (target ≤ 3×: {mark})")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--events", type=int, default=EVENTS)
    p.add_argument("--workloads", default="abc")
    p.add_argument("--no-peers", action="store_true", help="botrt and the floor only")
    p.add_argument("--json", help="also save the raw figures to this file")
    p.add_argument("--no-write", action="store_true", help="print, do not touch docs/")
    args = p.parse_args()
    peers = not args.no_peers
    load_before = load_line()
    figures = measure(args.workloads, args.trials, args.events, peers)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1), encoding="utf-8")
    sections = "\n".join(table(w, figures[w], peers) for w in args.workloads)
    body = f"""## Dispatch throughput

Command: `.venv/bin/python benchmarks/dispatch.py --trials {args.trials}`
Machine: {machine_line()} ({load_before} at the start, {load_line()} at the end)

{args.events:,} pre-built text events after a {WARMUP}-event warm-up, fed one after
another, every handler replying once into an in-memory stub; a fresh
interpreter per trial, trials round-robin over the contenders, median of
{args.trials}. Targets: botrt ≥ 3× the fastest peer, and within 3× of the floor.
The botrt figure compared is `Host.handle` on a started host that loaded the
commands as a plugin folder, with metrics on (every event counted for
`/metrics`, as with `[server]`); the queue path (what an adapter's `submit` costs,
task hand-off included) and the bare dispatcher are shown beside it.

{sections}
How each contender is driven (the driver scripts' docstrings say more):
- botrt: `await host.handle(event)`; queue: `await host.submit(event)` with
  `Host.serve` running, then wait for the reply; bare: `await dispatcher.dispatch(event)`.
- melobot: the adapter input loop's tail (origin, `BEFORE_EVENT_HANDLE`,
  `Dispatcher.broadcast`) then `await bot.wait_finish(event)`; `StdinEvent`s;
  the console's terminal write stubbed; melobot's global logger off (its best case).
- vkbottle: `await bot.process_event(update)` (what `run_polling` runs per
  update); an `ABCHTTPClient` stub under `API(..., http_client=...)`. No DAGs
  (a) and no priorities: in (c) handlers are registered tier by tier.
- floor: `table.get(word)` and `await handler(event)`; in (a) the 14 node
  coroutines awaited from a list.
"""
    if args.no_write:
        print(body)
        return
    write_section("dispatch", body)
    print(body)


if __name__ == "__main__":
    main()
