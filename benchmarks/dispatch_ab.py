"""Before/after of botrt's own dispatch figures, for work on the hot path.

Run: ``.venv/bin/python benchmarks/dispatch_ab.py --before DIR [--trials 5] [--callgrind]``
where DIR is a copy of ``runtime/`` holding the code before the change, e.g.::

    mkdir -p /tmp/before && cp -r runtime /tmp/before/
    git show HEAD:runtime/botrt/handle/_run.py > /tmp/before/runtime/botrt/handle/_run.py

"Before" runs the botrt driver with ``PYTHONPATH=DIR`` (ahead of the editable
install), "after" with the working tree; trials alternate between the two. With
``--callgrind``, also counts instructions per event under valgrind (the
difference between a 1,000- and a 6,000-event run over 5,000): a figure a busy
machine cannot disturb. Writes the ``dispatch-ab`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import BOTRT_PYTHON, load_line, run_driver
from _report import machine_line, write_section

HERE = Path(__file__).resolve().parent
DRIVER = "drivers/botrt_dispatch.py"
CASES = [(w, v) for w in "abc" for v in ("host", "queue", "dispatcher")]
CALLGRIND_CASES = [("a", "host"), ("b", "host"), ("c", "host"), ("b", "queue")]


def with_path(before: str | None) -> None:
    if before is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = before


def instructions_per_event(workload: str, variant: str, before: str | None) -> int:
    def collected(events: int) -> int:
        env = dict(os.environ, PYTHONHASHSEED="0")
        if before is not None:
            env["PYTHONPATH"] = before
        else:
            env.pop("PYTHONPATH", None)
        out = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                BOTRT_PYTHON,
                str(HERE / DRIVER),
                "--workload",
                workload,
                "--variant",
                variant,
                "--events",
                str(events),
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stderr
        match = re.search(r"Collected : (\d+)", out)
        if match is None:
            raise RuntimeError(f"no callgrind total in: {out[-500:]}")
        return int(match.group(1))

    return (collected(6000) - collected(1000)) // 5000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", required=True, help="a runtime/ tree with the code before")
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--callgrind", action="store_true")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    before = str(Path(args.before).resolve())
    load_before = load_line()
    figures: dict[tuple[str, str, str], list[float]] = {}
    for trial in range(args.trials):
        for w, v in CASES:
            for side, path in (("before", before), ("after", None)):
                with_path(path)
                r = run_driver(BOTRT_PYTHON, DRIVER, ("--workload", w, "--variant", v))
                figures.setdefault((w, v, side), []).append(r["events_per_s"])
        with_path(None)
        print(f"trial {trial + 1}/{args.trials}", file=sys.stderr, flush=True)
    counts: dict[tuple[str, str, str], int] = {}
    if args.callgrind:
        if shutil.which("valgrind") is None:
            raise SystemExit("valgrind is not installed: apt-get install -y valgrind")
        for w, v in CALLGRIND_CASES:
            for side, path in (("before", before), ("after", None)):
                counts[(w, v, side)] = instructions_per_event(w, v, path)
                print(f"callgrind {w} {v} {side}: {counts[(w, v, side)]}", file=sys.stderr)

    rows = []
    for w, v in CASES:
        b = statistics.median(figures[(w, v, "before")])
        a = statistics.median(figures[(w, v, "after")])
        ir = ""
        if (w, v, "before") in counts:
            ib, ia = counts[(w, v, "before")], counts[(w, v, "after")]
            ir = f" {ib:,} → {ia:,} ({ia / ib - 1:+.0%}) |"
        else:
            ir = " |" if counts else ""
        rows.append(f"| ({w}) | {v} | {b:,.0f} | {a:,.0f} | {a / b:.2f}× |{ir}")
    head = "| workload | path | before, events/s | after, events/s | after ÷ before |"
    rule = "| --- | --- | ---: | ---: | ---: |"
    if counts:
        head += " instructions per event (callgrind) |"
        rule += " --- |"
    flags = f"--trials {args.trials}" + (" --callgrind" if counts else "")
    body = f"""## Dispatch hot path: before and after

Command: `.venv/bin/python benchmarks/dispatch_ab.py --before DIR {flags}`
Machine: {machine_line()} ({load_before} at the start, {load_line()} at the end)

"Before" is the code as committed before the change (given as a `runtime/`
tree on `PYTHONPATH`), "after" the working tree; the botrt dispatch driver
(20,000 events, see the dispatch section), trials alternating, median of
{args.trials}. Paths: `host` = `Host.handle`, `queue` = `Host.submit` through the
queue and lanes, `dispatcher` = bare `Dispatcher.dispatch`. Wall-clock figures
on this shared machine move ±30% between trials; the instruction counts
(callgrind, `PYTHONHASHSEED=0`) do not, and include building each event in the
driver, the same in both columns.

{head}
{rule}
{chr(10).join(rows)}
"""
    if not args.no_write:
        write_section("dispatch-ab", body)
    print(body)


if __name__ == "__main__":
    main()
