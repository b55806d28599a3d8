"""Conversations: ``ask`` -> answer round trips beside plain commands; memory per waiting ask.

Run: ``.venv/bin/python benchmarks/conversations.py [--trials 5] [--users 1,100,10000]``
(writes the ``conversations`` section of docs/benchmarks.md).

An inner measure at the dispatch benchmark's seam (pre-built botrt events, a
reply counted in memory): see ``drivers/botrt_conversations.py``. For each
number of users, a plain command and an ask -> answer round trip run on the
same host, through `Host.submit` (the queue and the lanes), one event after
another, each waiting for its reply; every reply's text is checked. Every
trial is a fresh interpreter, trials go round-robin over the contenders, and
figures are medians; ratios are taken between figures of the same run.
Memory per waiting ask is traced with `tracemalloc` at 10,000 waiting users.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import BOTRT_PYTHON, Contender, load_line, median, medians, round_robin, run_driver
from _report import machine_line, write_section

DRIVER = "drivers/botrt_conversations.py"
WAITING = 10_000
TARGET_BYTES = 2_048


def plan(users: list[int]) -> list[Contender]:
    """A command and an ask round trip per number of users, side by side."""
    return [
        Contender(f"{kind}:{n}", f"{kind}, {n:,} users", "botrt", "botrt", DRIVER, args)
        for n in users
        for kind, args in (
            ("command", ("--variant", "command", "--users", str(n))),
            ("ask", ("--variant", "ask", "--users", str(n))),
        )
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--users", default="1,100,10000", help="comma-separated user counts")
    p.add_argument("--seconds", type=float, default=1.0, help="timed, per trial")
    p.add_argument("--json", help="also save the raw figures to this file")
    p.add_argument("--no-write", action="store_true", help="print, do not touch docs/")
    args = p.parse_args()
    users = [int(u) for u in args.users.split(",")]
    load_before = load_line()
    runs = round_robin(plan(users), args.trials, ("--seconds", str(args.seconds)))
    memory = [
        run_driver(BOTRT_PYTHON, DRIVER, ("--variant", "memory", "--users", str(WAITING)))
        for _ in range(args.trials)
    ]
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "memory": memory}, indent=1))
    rows = []
    for n in users:
        cmd, ask = runs[f"command:{n}"], runs[f"ask:{n}"]
        c_wall, a_wall = medians(cmd, "events_per_s"), medians(ask, "events_per_s")
        c_cpu, a_cpu = medians(cmd, "events_per_cpu_s"), medians(ask, "events_per_cpu_s")
        rows.append(
            f"| {n:,} | {c_wall:,.0f} | {a_wall:,.0f} | {a_wall / c_wall:.2f}× "
            f"| {c_cpu:,.0f} | {a_cpu:,.0f} | {a_cpu / c_cpu:.2f}× |"
        )
    per_ask = median([m["bytes_per_ask"] for m in memory])
    with_event = median([m["bytes_per_ask_with_event"] for m in memory])
    rss = median([m["rss_mib_growth"] for m in memory])
    tasks = memory[0]["tasks_alive"]
    command = f".venv/bin/python benchmarks/conversations.py --trials {args.trials}"
    if args.users != "1,100,10000":
        command += f" --users {args.users}"
    verdict = "meets" if per_ask < TARGET_BYTES else "misses"
    table = "\n".join(
        [
            "| users | command, events/s | ask round trip, events/s | ask ÷ command "
            "| command, events/CPU-s | ask, events/CPU-s | ask ÷ command, CPU |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            *rows,
        ]
    )
    body = f"""## Conversations: an ask round trip beside a command, and what a waiting ask costs

Command: `{command}`
Machine: {machine_line()} ({load_before} at the start, {load_line()} at the end)

An inner measure at the dispatch benchmark's seam: pre-built botrt `TextEvent`s
(no VK parsing), a reply counted in memory (no API client). One started host
(metrics on) loads one plugin folder: the 50 commands of workload (b) and a
`/chat` command whose handler asks forever (`answer = await ask(answer.text)`),
so an answer is one event in and one reply out, as a command is. Every event
goes through the real intake, `await host.submit(event)` with `Host.serve`
running, and the driver waits for its reply; replies' texts are checked. Event
i comes from user `i % N`; for the ask column every user's `/chat` is sent
before timing, so N asks wait throughout. At least {args.seconds:g} s timed per
trial; a fresh interpreter per trial, round-robin, medians of {args.trials};
ratios within this run. Target (issue 15): a dialogue step costs no more than
a command, read on events per CPU second.

{table}

Memory with {WAITING:,} users each in a waiting ask (`tracemalloc`, after
`gc.collect()`, medians of {args.trials}): **{per_ask:,.0f} bytes per waiting
ask** without its command event ({verdict} the 2 KB target), {with_event:,.0f}
bytes with it (a VK `MessageNew` is larger than this bare `TextEvent`); RSS grew
{rss:.0f} MiB for {WAITING:,} asks. Tasks alive while they wait: {tasks:,},
that is one task per waiting ask (the run's lane task stays suspended in the
handler's frames). Where the bytes are (a `tracemalloc` comparison by line, per
ask): the suspended lane task and its `_IntakeLane` (`host/_intake.py`, about
0.8 KB with the task's loop bookkeeping), the frames of the flow walk
(`handle/_walk.py`, about 0.9 KB) and of the handler, the ask's `Waiter` and
future (`handle/_ask.py`, about 0.5 KB). Under 2 KB needs the waiting run
to give up its task (resume it from the answer's lane instead), a change to
the intake and the walk, not a cheap one; it is left for the owners of
`host/` and `handle/`.
"""
    if args.no_write:
        print(body)
        return
    write_section("conversations", body)
    print(body)


if __name__ == "__main__":
    main()
