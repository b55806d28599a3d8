"""Like for like on VK: botrt beside vkbottle and vkflow, same updates in, same seam out.

Run: ``.venv/bin/python benchmarks/vk_path.py [--trials 5] [--workloads bc]``
(writes the ``vk-path`` section of docs/benchmarks.md; installs the peers into
``benchmarks/.venvs/`` on first use).

Every framework gets the same raw VK ``message_new`` update dicts (``_vk.py``),
goes through its own intake (botrt: ``parse_update`` and ``Host.submit``, the
queue and a lane task; vkbottle and vkflow: what their ``run_polling`` does per
update, a task each), replies with ``messages.send`` through its own API
client, and has its HTTP session replaced by the same in-memory stand-in
(`_vk.StubSession`); every reply's peer and text are checked against the
update it answers. botrt's `Host.handle` (no queue, no task) is shown as a
labelled inner measure. Each trial is a fresh interpreter timing at least
one second of events after a warm-up; trials go round-robin over the
contenders; figures are medians, and the ratios are taken between medians
of the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import Contender, Trials, load_line, medians, round_robin
from _report import machine_line, write_section
from _workload import MIN_SECONDS

TITLES = {
    "b": "(b) 50 commands, each update matches one",
    "c": "(c) 50 commands over 5 priority tiers, a catch-all flow above them",
}
QUEUE_VS_VKBOTTLE = 20.0  # issue 21's target for the queue path
QUEUE_VS_HANDLE = 0.5


def contenders(workload: str, before: str | None = None) -> list[Contender]:
    """botrt's two paths and the two VK peers, for one workload.

    With `before` (a copy of ``runtime/`` before a change), also botrt's queue
    path run from that copy.
    """
    w = ("--workload", workload)
    botrt = "drivers/botrt_vk.py"
    earlier = []
    if before is not None:
        earlier.append(
            Contender(
                "botrt-before",
                "botrt before the change (`--before`): the same queue path",
                "botrt-extra",
                "botrt",
                "drivers/botrt_before.py",
                (before, botrt, *w, "--variant", "queue"),
            )
        )
    return [
        Contender(
            "botrt",
            "botrt: `parse_update` → `Host.submit` → queue → lane",
            "botrt",
            "botrt",
            botrt,
            (*w, "--variant", "queue"),
        ),
        Contender(
            "botrt-handle",
            "botrt, inner measure: `parse_update` → `Host.handle` (no queue, no task)",
            "botrt-extra",
            "botrt",
            botrt,
            (*w, "--variant", "handle"),
        ),
        Contender(
            "vkbottle",
            "vkbottle 4.11.0: task(`bot.process_event(update)`)",
            "peer",
            "vkbottle",
            "peers/vkbottle_vk.py",
            w,
        ),
        Contender(
            "vkflow",
            "vkflow 1.2.0: task(`bot.handle_event(NewEvent(...))`)",
            "peer",
            "vkflow",
            "peers/vkflow_vk.py",
            w,
        ),
        *earlier,
    ]


def table(workload: str, figures: Trials, before: str | None = None) -> str:
    """One workload's table, with botrt's ratios to each contender (wall and CPU)."""
    cs = {c.key: c for c in contenders(workload, before)}
    wall = {k: medians(v, "events_per_s") for k, v in figures.items()}
    cpu = {k: medians(v, "events_per_cpu_s") for k, v in figures.items()}
    rows = [
        "| contender | events/s (median) | events per CPU s (median) | trials, events/s "
        "| botrt queue ÷ this (wall, CPU) |",
        "| --- | ---: | ---: | --- | ---: |",
    ]
    for k in figures:
        spread = ", ".join(f"{r['events_per_s']:,.0f}" for r in figures[k])
        ratio = (
            "—" if k == "botrt" else f"{wall['botrt'] / wall[k]:.2f}×, {cpu['botrt'] / cpu[k]:.2f}×"
        )
        rows.append(f"| {cs[k].label} | {wall[k]:,.0f} | {cpu[k]:,.0f} | {spread} | {ratio} |")
    vs_bottle = cpu["botrt"] / cpu["vkbottle"]
    vs_handle = cpu["botrt"] / cpu["botrt-handle"]
    bottle_mark = "met" if vs_bottle >= QUEUE_VS_VKBOTTLE else "**missed**"
    handle_mark = "met" if vs_handle >= QUEUE_VS_HANDLE else "**missed**"
    lines = [f"### {TITLES[workload]}", "", *rows, ""]
    lines.append(
        f"- botrt's queue path ÷ vkbottle, per CPU second: **{vs_bottle:.1f}×** "
        f"(target ≥ {QUEUE_VS_VKBOTTLE:.0f}×: {bottle_mark})"
    )
    lines.append(
        f"- botrt's queue path ÷ its `Host.handle`, per CPU second: **{vs_handle:.2f}** "
        f"(target ≥ {QUEUE_VS_HANDLE}: {handle_mark})"
    )
    if "botrt-before" in cpu:
        lines.append(
            f"- botrt's queue path after ÷ before the change: "
            f"**{cpu['botrt'] / cpu['botrt-before']:.2f}×** per CPU second, "
            f"{wall['botrt'] / wall['botrt-before']:.2f}× in events/s"
        )
    return "\n".join(lines) + "\n"


def scaling(counts: list[int], trials: int, seconds: float) -> str:
    """The ``vk-scaling`` section: workload (b) with `counts` commands, every contender."""
    load_before = load_line()
    plan = [
        Contender(
            f"{n}:{c.key}", c.label, c.kind, c.venv, c.script, (*c.args, "--commands", str(n))
        )
        for n in counts
        for c in contenders("b")
    ]
    runs = round_robin(plan, trials, ("--seconds", str(seconds)))
    labels = {c.key: c.label for c in contenders("b")}
    cpu = {k: medians(v, "events_per_cpu_s") for k, v in runs.items()}
    wall = {k: medians(v, "events_per_s") for k, v in runs.items()}
    head = " | ".join(f"{n:,} commands" for n in counts)
    rows = [
        f"| contender, events per CPU s (events/s) | {head} |",
        "| --- |" + " ---: |" * len(counts),
    ]
    for key, label in labels.items():
        cells = " | ".join(f"{cpu[f'{n}:{key}']:,.0f} ({wall[f'{n}:{key}']:,.0f})" for n in counts)
        rows.append(f"| {label} | {cells} |")
    for peer in ("vkbottle", "vkflow"):
        cells = " | ".join(f"{cpu[f'{n}:botrt'] / cpu[f'{n}:{peer}']:.1f}×" for n in counts)
        rows.append(f"| botrt's queue path ÷ {peer}, per CPU second | {cells} |")
    table_text = "\n".join(rows)
    command = (
        f".venv/bin/python benchmarks/vk_path.py --scaling {','.join(map(str, counts))} "
        f"--trials {trials}"
    )
    if seconds != MIN_SECONDS:
        command += f" --seconds {seconds:g}"
    return f"""## Like for like on VK: how the number of commands scales

Command: `{command}`
Machine: {machine_line()} ({load_before} at the start, {load_line()} at the end)

Workload (b) of the like-for-like section (same seam, the HTTP session; same
raw updates; every reply checked) with 10, 100 and 1,000 commands; event i
names command ``i × 7919 mod N``, so every N consecutive updates name each
command once. Medians of {trials} trials, each timing at least {seconds:g} s, round-robin.

{table_text}

botrt finds a command with one dict lookup per priority tier, so its cost
does not grow with the number of commands; vkbottle tries its handlers in
order (about N/2 rule checks per update), and vkflow starts a task per
registered command for every message.
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--seconds", type=float, default=MIN_SECONDS, help="timed, per trial")
    p.add_argument("--workloads", default="bc")
    p.add_argument(
        "--scaling", help="instead: workload (b) with these numbers of commands, e.g. 10,100,1000"
    )
    p.add_argument("--json", help="also save the raw figures to this file")
    p.add_argument("--no-write", action="store_true", help="print, do not touch docs/")
    p.add_argument(
        "--before",
        metavar="DIR",
        help="also run botrt's queue path from DIR, a copy of runtime/ before a change",
    )
    args = p.parse_args()
    if args.scaling:
        body = scaling([int(n) for n in args.scaling.split(",")], args.trials, args.seconds)
        if not args.no_write:
            write_section("vk-scaling", body)
        print(body)
        return
    load_before = load_line()
    # Keys are per workload: prefix them so one round-robin covers every workload.
    plan = [
        Contender(f"{w}:{c.key}", c.label, c.kind, c.venv, c.script, c.args)
        for w in args.workloads
        for c in contenders(w, args.before)
    ]
    runs = round_robin(plan, args.trials, ("--seconds", str(args.seconds)))
    per_workload = {
        w: {k.split(":", 1)[1]: v for k, v in runs.items() if k.startswith(f"{w}:")}
        for w in args.workloads
    }
    if args.json:
        Path(args.json).write_text(json.dumps(per_workload, indent=1), encoding="utf-8")
    sections = "\n".join(table(w, per_workload[w], args.before) for w in args.workloads)
    command = f".venv/bin/python benchmarks/vk_path.py --trials {args.trials}"
    if args.seconds != MIN_SECONDS:
        command += f" --seconds {args.seconds:g}"
    if args.workloads != "bc":
        command += f" --workloads {args.workloads}"
    if args.before:
        command += " --before DIR"
    body = f"""## Like for like on VK: raw updates in, replies out at the HTTP session

Command: `{command}`
Machine: {machine_line()} ({load_before} at the start, {load_line()} at the end)

Seam, the same for every contender: the HTTP client session. Each framework's
`aiohttp.ClientSession` is replaced by one stand-in (`benchmarks/_vk.py`,
`StubSession`) that answers VK's API from memory; everything above it runs:
the framework's parsing of the raw update, its intake, its dispatch, its API
client (parameters, token, form, JSON decoding of VK's answer). Input: the
same raw `message_new` dicts (the shape of a live Long Poll capture), from 100
users in private chats; the handler of `/cmdNN` replies `cmdNN`, and every
reply's peer and text are checked against the update it answers. Updates are
fed one after another, each handled (its reply at the session) before the
next; at least {args.seconds:g} s timed per trial after a 50-update warm-up; a fresh
interpreter per trial, trials round-robin over the contenders, medians of
{args.trials}. Events per CPU second (the process's CPU time) are less disturbed
by other jobs on the machine than events per second; the targets are read on them.

{sections}
How each contender is driven (the driver scripts' docstrings say more):
- botrt (`drivers/botrt_vk.py`): a started `Host` with a VK `[[bots]]` entry
  (Long Poll; so the member-tracking middleware runs on every event, and the
  Long Poll adapter waits on the stub), the commands as a plugin folder,
  metrics on; per update what the Long Poll adapter's sink does,
  `parse_update` then `await host.submit(event)` with `Host.serve` running.
  Its `rate_limit` is set to 10⁹/s (out of the way, as the peers' limiters).
  The inner measure calls `Host.handle` instead of `submit`.
- vkbottle (`peers/vkbottle_vk.py`): `asyncio.create_task(bot.process_event(update))`,
  as its `run_polling` does; `@bot.on.message(text="/cmdNN")`; the stub is the
  session of vkbottle's own `AiohttpClient`. No priorities: (c) registers the
  commands tier by tier behind a `blocking=False` catch-all handler.
- vkflow (`peers/vkflow_vk.py`): `asyncio.create_task(bot.handle_event(NewEvent(...)))`,
  as its `run_polling` does; `@app.command("cmdNN")` with prefix `/`; the stub
  passed as `requests_session`; its pause between requests set to 0 and its
  logger disabled (its best case). No priorities: (c) adds an `app.on_message()`
  catch-all.
"""
    if args.no_write:
        print(body)
        return
    write_section("vk-path", body)
    print(body)


if __name__ == "__main__":
    main()
