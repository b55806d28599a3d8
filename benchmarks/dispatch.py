"""Dispatch throughput, an inner measure: botrt's machinery beside a bare asyncio floor.

Run: ``.venv/bin/python benchmarks/dispatch.py [--trials 5] [--workloads abc]``
(writes the ``dispatch`` section of docs/benchmarks.md; installs melobot into
``benchmarks/.venvs/`` on first use).

Not the peer comparison: events are pre-built botrt events (no platform
parsing) and a reply is one list append (no API client); the like-for-like
comparison with the VK peers is ``vk_path.py``. The workload (``_workload.py``):
event i names one of 50 commands (``_workload.text``), fed one after another, at least one second
timed per trial after a 50-event warm-up, every reply's text checked. (a) one
flow shaped as the seed's 7-node DAG, (b) 50 command flows, (c) the same over
5 priority tiers with a catch-all flow above them.

Every trial is a fresh interpreter; trials go round-robin over the contenders;
figures are medians. Drivers:

- ``drivers/botrt_dispatch.py``: ``Host.handle`` over a plugin folder, metrics
  on; the same host through ``Host.submit`` and the queue; a bare
  ``Dispatcher.dispatch``;
- ``peers/melobot_dispatch.py``: melobot's adapter input loop's tail,
  ``Dispatcher.broadcast`` + ``bot.wait_finish``, console protocol, its
  terminal write stubbed (melobot has no VK support, so it cannot run the
  like-for-like workload; shown for reference, at its own seam);
- ``drivers/floor_dispatch.py``: a dict lookup and an awaited handler.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import Contender, Trials, load_line, medians, round_robin
from _report import machine_line, write_section
from _workload import MIN_SECONDS, WARMUP

TITLES = {
    "a": "(a) one flow, the seed's 7-node DAG (14 node runs per event)",
    "b": "(b) 50 command flows, each event matches one",
    "c": "(c) 50 command flows over 5 priority tiers, a catch-all flow above them",
}


def contenders(workload: str, peers: bool) -> list[Contender]:
    """botrt's three paths, melobot (unless `peers` is false) and the floor."""
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
        out.append(
            Contender(
                "melobot", "melobot 3.5.1 (`Flow`), its own seam", "peer", "melobot", melobot, w
            )
        )
    elif peers:
        out += [
            Contender(
                "melobot",
                "melobot 3.5.1 (`on_command`), its own seam",
                "peer",
                "melobot",
                melobot,
                (*w, "--variant", "command"),
            ),
            Contender(
                "melobot-start",
                "melobot 3.5.1 (`on_start_match`), its own seam",
                "peer",
                "melobot",
                melobot,
                (*w, "--variant", "start"),
            ),
        ]
    out.append(
        Contender(
            "floor", "floor: bare asyncio loop", "floor", "botrt", "drivers/floor_dispatch.py", w
        )
    )
    return out


def table(workload: str, figures: Trials, peers: bool) -> str:
    """One workload's table: medians per wall and CPU second, and botrt's ratios."""
    cs = {c.key: c for c in contenders(workload, peers)}
    wall = {k: medians(v, "events_per_s") for k, v in figures.items()}
    cpu = {k: medians(v, "events_per_cpu_s") for k, v in figures.items()}
    rows = [
        "| contender | events/s (median) | events per CPU s (median) | trials, events/s "
        "| `Host.handle` ÷ this (wall, CPU) |",
        "| --- | ---: | ---: | --- | ---: |",
    ]
    for k in figures:
        spread = ", ".join(f"{r['events_per_s']:,.0f}" for r in figures[k])
        ratio = (
            "—" if k == "botrt" else f"{wall['botrt'] / wall[k]:.2f}×, {cpu['botrt'] / cpu[k]:.2f}×"
        )
        rows.append(f"| {cs[k].label} | {wall[k]:,.0f} | {cpu[k]:,.0f} | {spread} | {ratio} |")
    vs_floor = cpu["floor"] / cpu["botrt"]
    mark = "met" if vs_floor <= 3 else "**missed**"
    lines = [f"### {TITLES[workload]}", "", *rows, ""]
    lines.append(
        f"- floor ÷ `Host.handle`, per CPU second: **{vs_floor:.1f}×** (target ≤ 3×: {mark})"
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--seconds", type=float, default=MIN_SECONDS, help="timed, per trial")
    p.add_argument("--workloads", default="abc")
    p.add_argument("--no-peers", action="store_true", help="botrt and the floor only")
    p.add_argument("--json", help="also save the raw figures to this file")
    p.add_argument("--no-write", action="store_true", help="print, do not touch docs/")
    args = p.parse_args()
    peers = not args.no_peers
    load_before = load_line()
    plan = [
        Contender(f"{w}:{c.key}", c.label, c.kind, c.venv, c.script, c.args)
        for w in args.workloads
        for c in contenders(w, peers)
    ]
    runs = round_robin(plan, args.trials, ("--seconds", str(args.seconds)))
    figures = {
        w: {k.split(":", 1)[1]: v for k, v in runs.items() if k.startswith(f"{w}:")}
        for w in args.workloads
    }
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1), encoding="utf-8")
    sections = "\n".join(table(w, figures[w], peers) for w in args.workloads)
    command = f".venv/bin/python benchmarks/dispatch.py --trials {args.trials}"
    if args.seconds != MIN_SECONDS:
        command += f" --seconds {args.seconds:g}"
    body = f"""## Dispatch throughput (inner measure)

Command: `{command}`
Machine: {machine_line()} ({load_before} at the start, {load_line()} at the end)

An inner measure of botrt's machinery, **not** the comparison with the peers
(that is the like-for-like section, `vk_path.py`). Seam: events are pre-built
botrt `TextEvent`s (no VK parsing) and a reply is one append to a list (no
API client, no HTTP session). At least {args.seconds:g} s timed per trial after a
{WARMUP}-event warm-up, events fed one after another, every reply's text
checked; a fresh interpreter per trial, trials round-robin over the
contenders, medians of {args.trials}. `Host.handle` runs on a started host that
loaded the commands as a plugin folder, with metrics on; the queue path (what an
adapter's `submit` costs, task hand-off included) and the bare dispatcher are
shown beside it. Target: within 3× of the floor.

{sections}
How each contender is driven (the driver scripts' docstrings say more):
- botrt: `await host.handle(event)`; queue: `await host.submit(event)` with
  `Host.serve` running, then wait for the reply; bare: `await dispatcher.dispatch(event)`.
- melobot, at its own seam (it has no VK support, so it cannot run the
  like-for-like workload; no target is read on it): the adapter input loop's
  tail (origin, `BEFORE_EVENT_HANDLE`, `Dispatcher.broadcast`) then
  `await bot.wait_finish(event)`; `StdinEvent`s; the console's terminal write
  stubbed; melobot's global logger off (its best case).
- floor: `table.get(word)` and `await handler(event)`; in (c) a counter for
  the catch-all first; in (a) the 14 node coroutines awaited from a list.
"""
    if args.no_write:
        print(body)
        return
    write_section("dispatch", body)
    print(body)


if __name__ == "__main__":
    main()
