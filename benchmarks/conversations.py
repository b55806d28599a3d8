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
suspension up to the worker). With nothing in front of dispatch (no
`botrt_event_received` filter, no event middleware) the lane runs
`Host.handle` as its two halves: `_begin` counts the event in and returns the
dispatcher's coroutine, which the lane drives; `_end` (metrics, the reload
epoch, `on_handled`) runs as that coroutine ends. `ask()` is a
generator-based coroutine: it sends the prompt, registers a `Waiter` and
yields it; the lane sees it, sets the run's coroutine aside (*parks* it),
gives back its slot and its chat's turn, and the worker goes on. The answer is
handled in its own lane like any event: the dispatcher finds the waiter and
resumes the parked run at once, in the answer's task and on the run's own
context, until it asks again or ends; the answer reaches the asking frame as
the generator's `yield`'s value (no Python-level `StopIteration`), and an
answer whose run asks again is handled with no coroutine of its own. A
timeout (one sweeper, a queue per timeout value on the host's clock) or a stop
resumes a parked run in a short task of the lanes; a hard stop closes it (its
`finally` blocks run). A run that asks where no lane can park it (`TestHost`,
a task the handler started) waits on a future in its own task.

What the 10,000 waiting asks hold, per ask (`tracemalloc` by line; 1,842
bytes in the run that profiled it):

| bytes | what | why it stays |
| ---: | --- | --- |
| 456 | the flow walk's coroutine and its `FlowRun` | the run goes on after the answer (successor nodes, records) |
| 280 | `ask()`'s generator | the wait's frame: the answer arrives as its `yield`'s value |
| 208 | the handler's coroutine (`chat`) | the user's code: its frame is the conversation |
| 168 | the lane (`IntakeLane`: the run, its context, its event and start, the waiter) | what the answer resumes; the handling's tail runs when the run ends |
| 136 | the run's contextvars: `CURRENT` set in the lane's context | the run resumes in its own context |
| 88 | the `Waiter` | the key, deadline, timeout, latest message |
| 64 | the lane visit's `Context` | kept for the parked run |
| 64 | the key tuple (bot, chat, user) | the key of `Dialogues.waiting` |
| 56 + 56 + 56 + 32 | the walk's stack, the run's node stack and records (lists) | the walk's state |
| 48 | the event's `Delivery` | shared by the event's runs |
| 36 | the timeout queue's slot and the deadline (nanoseconds) | the timeout |

`Host.handle`'s own coroutine (320 bytes) is no longer among them: the lane
keeps the event and its start instead (16 bytes).

The answer's path, against a command's: a command looks up its route by its
first word and builds a `FlowRun`, a `Delivery` and a walk; an answer pops its
waiter from one dict, resumes the parked run (`Context.run`, then the
coroutine chain down to `ask()`'s generator), and the run asks again: a new
generator, the prompt, a `Waiter`, the dict entry and a deadline. Callgrind
per event (100 users, `--events 1300` minus `--events 300`, divided by 1,000,
`PYTHONHASHSEED=0`): a command 130.2k, an ask round trip 122.5k. At 10,000
users the round trip's instructions are about level with a command's
(130.6k against 129.5k over 3,000 events) and the timed ratio is lower: each
answer reaches a conversation that has been idle in memory for 10,000 other
events (cache misses that instruction counts do not show), and the garbage
collector walks what the 10,000 conversations keep alive, while a command
keeps nothing. With the driver's events built 100 at a time (so that they die
young) the collector takes 2.5% of the ask's CPU there and none of a command's,
and the timed ratio stays at 0.96–0.97 per CPU second: what is left is the
memory's locality, not the collector.
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

    def per_users(side: str) -> str:
        return ", ".join(f"{n:,} users {r:.2f}×" for n, r in zip(users, ratios[side], strict=True))

    rate_line = f"- ask ÷ command per CPU second: {per_users('after')}"
    if "before" in ratios:
        rate_line += f" (before: {per_users('before')})"
    missed = [f"{n:,}" for n, r in zip(users, ratios["after"], strict=True) if r < 1]
    rate_line += "; target ≥ 1×: " + (
        f"**missed** at {', '.join(missed)} users" if missed else "met at every number of users"
    )
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
