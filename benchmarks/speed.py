"""The speed extra (``botrt[speed]``: uvloop and orjson) on and off, in the same run:
the like-for-like VK queue path and the webhook.

Run: ``.venv/bin/pip install -e '.[speed]'`` once, then
``.venv/bin/python benchmarks/speed.py [--trials 5] [--webhook-trials 3] [--seconds 5]``
(writes the ``speed`` section of docs/benchmarks.md).

Both measures use the drivers of `vk_path.py` and `webhook.py` unchanged, in
one venv that has the extra: "on" is the driver as it runs by default (the
event loop `botrt serve` would pick, JSON through orjson); "off" is the same
driver with ``--pure``, which makes orjson and uvloop unimportable in it
(`_speed.py`), as in a default install. On and off alternate, trial by trial.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import Contender, load_line, medians, round_robin
from _report import machine_line, write_section
from webhook import LUA, WARMUP_SECONDS, Server, wrk


def vk_queue(trials: int) -> dict[str, list[dict[str, Any]]]:
    """Workload (b) through `Host.submit`, on and off."""
    script, base = "drivers/botrt_vk.py", ("--workload", "b", "--variant", "queue")
    plan = [
        Contender("on", "with the extra", "botrt", "botrt", script, base),
        Contender("off", "without (--pure)", "botrt-extra", "botrt", script, (*base, "--pure")),
    ]
    return round_robin(plan, trials)


def webhook(trials: int, seconds: int) -> dict[str, list[dict[str, Any]]]:
    """The webhook server with 50 commands replying, on and off; requests/s under wrk."""
    runs: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    with tempfile.TemporaryDirectory() as tmp:
        lua = Path(tmp) / "callback.lua"
        lua.write_text(LUA, encoding="utf-8")
        for n in range(trials):
            for key, extra in (("on", ()), ("off", ("--pure",))):
                server = Server("botrt_webhook_server.py", *extra)
                try:
                    wrk(server.port, WARMUP_SECONDS, lua, f"w{key}{n}")
                    result = wrk(server.port, seconds, lua, f"t{key}{n}")
                finally:
                    server.stop()
                runs[key].append(result)
                print(
                    f"webhook trial {n + 1}/{trials} {key}: {result['rps']:,.0f} req/s",
                    file=sys.stderr,
                    flush=True,
                )
    return runs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=5, help="VK queue path trials")
    p.add_argument("--webhook-trials", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5, help="timed per webhook trial")
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    load_before = load_line()
    vk = vk_queue(args.trials)
    hook = webhook(args.webhook_trials, args.seconds)
    wall = {k: medians(v, "events_per_s") for k, v in vk.items()}
    cpu = {k: medians(v, "events_per_cpu_s") for k, v in vk.items()}
    rps = {k: statistics.median(r["rps"] for r in v) for k, v in hook.items()}
    p99 = {k: statistics.median(r["p99"] for r in v) / 1000 for k, v in hook.items()}

    def spread(runs: list[dict[str, Any]], key: str) -> str:
        return ", ".join(f"{r[key]:,.0f}" for r in runs)

    body = f"""## The speed extra: uvloop and orjson

Command: `.venv/bin/python benchmarks/speed.py --trials {args.trials} \
--webhook-trials {args.webhook_trials} --seconds {args.seconds}`
Machine: {machine_line()} ({load_before} at the start, {load_line()} at the end)

One venv with `botrt[speed]`; "without" runs the same driver with `--pure`,
which makes orjson and uvloop unimportable in it (a default install). With
and without alternate trial by trial; medians. The machine is shared with
other jobs: read the ratios, not the absolute figures.

| measure | with the extra | without | with ÷ without |
| --- | ---: | ---: | ---: |
| VK queue path (the like-for-like (b), `Host.submit`), events per CPU s | \
{cpu["on"]:,.0f} | {cpu["off"]:,.0f} | **{cpu["on"] / cpu["off"]:.2f}×** |
| the same, events/s | {wall["on"]:,.0f} | {wall["off"]:,.0f} | {wall["on"] / wall["off"]:.2f}× |
| webhook, 50 commands replying, requests/s | {rps["on"]:,.0f} | {rps["off"]:,.0f} | \
**{rps["on"] / rps["off"]:.2f}×** |
| webhook p99 latency, ms | {p99["on"]:.1f} | {p99["off"]:.1f} | |

Trials, VK queue path events/s: with {spread(vk["on"], "events_per_s")}; without \
{spread(vk["off"], "events_per_s")}. Webhook requests/s: with {spread(hook["on"], "rps")}; \
without {spread(hook["off"], "rps")}.

What the extra changes: `botrt serve` runs its event loop on uvloop, and VK's
JSON (API answers, Long Poll and Callback API bodies, parameters and
`execute` scripts) goes through orjson (`botrt/_json.py`, which picks it on
first use and writes exactly what the standard library writes).
"""
    if not args.no_write:
        write_section("speed", body)
    print(body)


if __name__ == "__main__":
    main()
