"""Conversations: ``ask`` -> answer round trips beside plain commands; memory per waiting ask.

Run: ``.venv/bin/python benchmarks/conversations.py [--trials 5] [--users 1,100,10000]
[--before DIR]`` (writes the ``conversations`` section of docs/benchmarks.md). With
``--before``, DIR is a copy of ``runtime/`` holding the code before a change: every
contender also runs on it (``--runtime DIR``), in the same round-robin.

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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import BOTRT_PYTHON, Contender, load_line, median, medians, round_robin, run_driver
from _report import machine_line, write_section

DRIVER = "drivers/botrt_conversations.py"
NOTES = """How a waiting ask holds no task: the intake's lanes run on a small pool
of long-lived worker tasks (`host/_lanes.py`), and a worker drives each event's
handling itself (`IntakeLane` in `host/_intake_lane.py` is the awaitable it
awaits, running the handling on the lane's own context and passing every
suspension up to the worker). `ask()` registers a `Waiter` and yields it; the
lane sees it, sets the coroutine aside (*parks* it), gives back its slot and
its chat's turn, and the worker goes on with the next ready lane. The answer is
handled in its own lane like any event: the dispatcher finds the waiter, and
the answer's `Host.handle` awaits the parked lane, which resumes the run on the
run's own context until it asks again or ends. No future, no step future, no
wake-up of a second task per answer. A timeout (one sweeper, a queue per
timeout value on the host's clock) or a stop resumes a parked run in a short task of the lanes; a
hard stop closes it (its `finally` blocks run). A run that asks where no lane
can park it (`TestHost`, a task the handler started) waits on a future in its
own task, as before.

What the 10,000 waiting asks still hold, per ask (`tracemalloc` by
traceback; 2,014 bytes in the run that profiled it):

| bytes | what | why it stays |
| ---: | --- | --- |
| 456 | the flow walk's coroutine and its `FlowRun` | the run goes on after the answer (successor nodes, records) |
| 320 | `Host.handle`'s coroutine for the `/chat` event | its tail (metrics, `on_handled`, the reload epoch) runs when the run ends |
| 208 | the handler's coroutine (`chat`) | the user's code: its frame is the conversation |
| 136 | the run's contextvars: `CURRENT` set in the lane's context | the run resumes in its own context |
| 136 | the lane (`IntakeLane`: the coroutine, the context, the waiter, the latest message) | what the answer resumes |
| 112 | the `Delivery` of the event and the route's call (`handle/_dispatch.py`) | shared by the event's runs |
| 88 | the `Waiter` | the key, deadline, timeout, latest message |
| 80 | `ask()`'s awaitable (`_Asking`) | a slotted object instead of a 280-byte coroutine frame |
| 64 | the lane visit's `Context` | kept for the parked run |
| 64 | the key tuple (bot, chat, user) | the key of `Dialogues.waiting` |
| 56 + 56 + 32 + 56 + 32 | the walk's stack, the run's node stack and records (lists, with their items) | the walk's state |
| 48 | the deadline (`datetime`) | the host's clock is a `datetime` clock (`ManualClock` in tests) |
| 37 | the `waiting` dict's entry | the lookup for the answer |
| 24 + 8 | `Host.handle`'s start time; the timeout queue's slot | latency metrics; the timeout |

Before the change a waiting ask also held its lane task (about 460 bytes with
its entries in the loop's task sets), the lane's `_run` coroutine (about 250),
a future (144), `Dialogues.wait`'s coroutine (320) and `ask()`'s (280), a
token of the context variable, the heap's tuple, a set entry and the lane's key.

Where the round trip's time goes (a count of Python function calls per event,
`sys.setprofile`, 100 users): a command 126 (122 before), an ask round trip
159 (183 before). Instructions per event (callgrind, 100 users: the driver
with `--events 1300` minus `--events 300`, divided by 1,000, `PYTHONHASHSEED=0`,
measured when this section was written): an ask round trip 189,474 → 176,131
(−7%), a command 141,216 → 148,590 (+5%): every event now passes through the
lane's driver (`IntakeLane.__next__`, a Python-level step where the lane used
to `await` the handling directly), which is what parking costs the other
events; ask ÷ command in instructions 0.75 → 0.84. A command builds its route, `FlowRun`, `Delivery` and walk; an answer
instead resumes a parked run: the answer's lane awaits the parked lane (one
`Context.run` per step), `ask()` returns and is called again (its awaitable,
the prompt, a `Waiter`, the `waiting` dict, a deadline on the host's clock
and the heap with its occasional rebuild of answered entries), and the
original event's `Host.handle` frame passes the steps through. That
bookkeeping is what keeps an ask dearer than a command.

Lanes on long-lived workers (the queue-path section): the ask round trip at
100 users went from 176,051 to 165,779 instructions (−5.8%, callgrind as
above); the timed rows of this section were run at a load average of 7, where
ask ÷ command per CPU second moved from 0.56–0.70× to 0.64–0.74×. The target
of 1× is still missed: the answer's extra work listed above stays.
"""  # noqa: E501
WAITING = 10_000
TARGET_BYTES = 2_048


def plan(users: list[int], sides: dict[str, tuple[str, ...]]) -> list[Contender]:
    """A command and an ask round trip per number of users (and side), side by side."""
    return [
        Contender(
            f"{kind}:{n}:{side}",
            f"{kind}, {n:,} users, {side}",
            "botrt",
            "botrt",
            DRIVER,
            ("--variant", kind, "--users", str(n), *extra),
        )
        for n in users
        for side, extra in sides.items()
        for kind in ("command", "ask")
    ]


def rate_rows(users: list[int], runs: dict[str, Any], side: str) -> list[str]:
    """Table rows: a command beside an ask round trip, per number of users."""
    rows = []
    for n in users:
        cmd, ask = runs[f"command:{n}:{side}"], runs[f"ask:{n}:{side}"]
        c_wall, a_wall = medians(cmd, "events_per_s"), medians(ask, "events_per_s")
        c_cpu, a_cpu = medians(cmd, "events_per_cpu_s"), medians(ask, "events_per_cpu_s")
        rows.append(
            f"| {side} | {n:,} | {c_wall:,.0f} | {a_wall:,.0f} | {a_wall / c_wall:.2f}× "
            f"| {c_cpu:,.0f} | {a_cpu:,.0f} | **{a_cpu / c_cpu:.2f}×** |"
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--users", default="1,100,10000", help="comma-separated user counts")
    p.add_argument("--seconds", type=float, default=1.0, help="timed, per trial")
    p.add_argument("--json", help="also save the raw figures to this file")
    p.add_argument("--no-write", action="store_true", help="print, do not touch docs/")
    p.add_argument("--before", help="a runtime/ tree with the code before a change")
    args = p.parse_args()
    users = [int(u) for u in args.users.split(",")]
    sides: dict[str, tuple[str, ...]] = {"after": ()}
    if args.before:
        sides["before"] = ("--runtime", str(Path(args.before).resolve()))
    load_before = load_line()
    runs = round_robin(plan(users, sides), args.trials, ("--seconds", str(args.seconds)))
    memory: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for _ in range(args.trials):
        for side, extra in sides.items():
            memory[side].append(
                run_driver(
                    BOTRT_PYTHON, DRIVER, ("--variant", "memory", "--users", str(WAITING), *extra)
                )
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "memory": memory}, indent=1))
    rows = [row for side in sides for row in rate_rows(users, runs, side)]
    mem = {
        side: (
            median([m["bytes_per_ask"] for m in ms]),
            median([m["bytes_per_ask_with_event"] for m in ms]),
            median([m["rss_mib_growth"] for m in ms]),
            ms[0]["tasks_alive"],
        )
        for side, ms in memory.items()
    }
    per_ask, with_event, rss, tasks = mem["after"]
    command = f".venv/bin/python benchmarks/conversations.py --trials {args.trials}"
    if args.users != "1,100,10000":
        command += f" --users {args.users}"
    if args.before:
        command += " --before DIR"
    verdict = "meets" if per_ask < TARGET_BYTES else "misses"
    table = "\n".join(
        [
            "| code | users | command, events/s | ask round trip, events/s | ask ÷ command "
            "| command, events/CPU-s | ask, events/CPU-s | ask ÷ command, CPU |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
            *rows,
        ]
    )
    ratios = {
        side: [
            medians(runs[f"ask:{n}:{side}"], "events_per_cpu_s")
            / medians(runs[f"command:{n}:{side}"], "events_per_cpu_s")
            for n in users
        ]
        for side in sides
    }
    low, high = min(ratios["after"]), max(ratios["after"])
    verdict_rate = "met" if low >= 1 else "**missed**"
    rate_line = f"- ask ÷ command per CPU second: {low:.2f}–{high:.2f}×"
    if "before" in ratios:
        rate_line += f" (before: {min(ratios['before']):.2f}–{max(ratios['before']):.2f}×)"
    rate_line += f"; target ≥ 1×: {verdict_rate}"
    before_line = ""
    if "before" in mem:
        b_ask, b_event, b_rss, b_tasks = mem["before"]
        before_line = (
            f"Before the change: {b_ask:,.0f} bytes per waiting ask ({b_event:,.0f} with its "
            f"event), RSS +{b_rss:.0f} MiB, {b_tasks:,} tasks alive.\n"
        )
    body = f"""## Conversations: an ask round trip beside a command, and what a waiting ask costs

Command: `{command}` ("before" = `runtime/` of the commit before the change;
"after" = the working tree)
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
trial; a fresh interpreter per trial, round-robin over every row (both sides),
medians of {args.trials}; ratios within this run. Target (issue 15): a dialogue
step costs no more than a command, read on events per CPU second.

{table}

{rate_line}

Memory with {WAITING:,} users each in a waiting ask (`tracemalloc`, after
`gc.collect()`, medians of {args.trials}): **{per_ask:,.0f} bytes per waiting
ask** without its command event ({verdict} the 2 KB target, 2,048 bytes),
{with_event:,.0f} bytes with it (a VK `MessageNew` is larger than this bare
`TextEvent`); RSS grew {rss:.0f} MiB for {WAITING:,} asks. Tasks alive while they
wait: {tasks:,} (the host's own: no task per waiting ask).
{before_line}
{NOTES}"""
    if args.no_write:
        print(body)
        return
    write_section("conversations", body)
    print(body)


if __name__ == "__main__":
    main()
