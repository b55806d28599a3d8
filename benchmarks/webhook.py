"""Webhook throughput: Callback API requests per second on loopback, botrt beside a bare
aiohttp "ok" handler (the floor), measured in the same run.

Run: ``.venv/bin/python benchmarks/webhook.py [--trials 3] [--seconds 10]``
(writes the ``webhook`` section of docs/benchmarks.md). Needs ``wrk``
(``apt-get install wrk``), the load generator: it runs in its own process,
pinned to one core while the server has the other.

Each request is a distinct ``message_new`` update (its own ``event_id``, so
botrt's duplicate check lets every one through; 100 users, the 50 commands of
the dispatch benchmark), with the bot's secret. botrt's server is a real host
(``drivers/botrt_webhook_server.py``): aiohttp, the callback route's checks,
``ok``, then in the background the queue, the command flow and a reply through
``VkApi`` onto an in-memory session. The floor
(``drivers/floor_webhook_server.py``) reads the body and answers ``ok``.
A third botrt server runs with no inbox (``--no-inbox``): no durable write
before ``ok``, as before issue 16; the ratio of the two is the cost of the
durable write. With ``--before DIR`` (a copy of ``runtime/`` holding the code
before a change, as for ``dispatch_ab.py``) botrt also runs from DIR
(``PYTHONPATH=DIR``), so a change is measured before and after in one run.

Trials alternate the servers; each starts a fresh server, runs a 2-second
warm-up, then the timed run. Besides requests/s, each timed run reports the
server process's CPU time per request (all its threads, from /proc), which a
busy machine disturbs less. After the timed run the benchmark waits until
botrt has replied to every accepted update, and reports how long that took.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import load_line
from _report import machine_line, write_section
from _webhook import Driver

HERE = Path(__file__).resolve().parent
CONNECTIONS = 32
WARMUP_SECONDS = 2

LUA = r"""
local n = 0
local run = "run"
init = function(args) run = args[1] or run end
request = function()
  n = n + 1
  local user = 1000 + (n % 100)
  local body = '{"type":"message_new","group_id":1,"event_id":"' .. run .. '-' .. n ..
    '","v":"5.199","secret":"s3cret","object":{"message":{"date":1700000000,"from_id":' .. user ..
    ',"id":' .. n .. ',"out":0,"peer_id":' .. user .. ',"text":"/cmd' ..
    string.format("%02d", n % 50) .. '","conversation_message_id":' .. n ..
    ',"fwd_messages":[],"important":false,"random_id":0,"attachments":[],' ..
    '"is_hidden":false,"version":10000001},"client_info":{"button_actions":["text"],' ..
    '"keyboard":true,"inline_keyboard":true,"carousel":true,"lang_id":0}}}'
  return wrk.format("POST", "/vk/bench", {["Content-Type"] = "application/json"}, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"errors":%d,' ..
    '"p50":%d,"p90":%d,"p99":%d,"max":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def pinned(cpu: int, cmd: list[str]) -> list[str]:
    """`cmd` pinned to one core when there are two or more and taskset exists."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu), *cmd]
    return cmd


class Server(Driver):
    """A driver pinned to core 0, with its CPU time read from /proc."""

    def __init__(self, script: str, *args: str, pythonpath: str | None = None) -> None:
        super().__init__(script, *args, wrapper=pinned(0, []), pythonpath=pythonpath)

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far, all threads (user + system)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(port: int, seconds: int, script: Path, run: str) -> dict[str, Any]:
    cmd = pinned(1, ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script)])
    out = subprocess.run(
        [*cmd, f"http://127.0.0.1:{port}/vk/bench", "--", run],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("JSON "))
    result = dict(json.loads(line[5:]))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


SERVERS = {
    "floor": ("floor", ("floor_webhook_server.py",)),
    "botrt": (
        "botrt: real host, VK callback route, 50 commands replying",
        ("botrt_webhook_server.py",),
    ),
    "botrt-intake": (
        "botrt: the same with no plugin (intake only: nothing matches)",
        ("botrt_webhook_server.py", "--no-plugin"),
    ),
    "botrt-no-inbox": (
        "botrt: 50 commands replying, no inbox (no durable write, as before issue 16)",
        ("botrt_webhook_server.py", "--no-inbox"),
    ),
}
BEFORE = (
    "botrt before the change (`--before`): 50 commands replying",
    ("botrt_webhook_server.py",),
)
REPLYING = ("botrt", "botrt-no-inbox", "botrt-before")


def trial(name: str, seconds: int, lua: Path, n: int, before: str | None) -> dict[str, Any]:
    script, *args = (BEFORE if name == "botrt-before" else SERVERS[name])[1]
    server = Server(script, *args, pythonpath=before if name == "botrt-before" else None)
    try:
        warm = wrk(server.port, WARMUP_SECONDS, lua, f"w{n}")
        cpu = server.cpu_seconds()
        result = wrk(server.port, seconds, lua, f"t{n}")
        result["cpu_us"] = (server.cpu_seconds() - cpu) / max(result["requests"], 1) * 1e6
        if name in REPLYING:
            accepted = warm["requests"] - warm["non2xx"] + result["requests"] - result["non2xx"]
            result["accepted"] = accepted
            result["drain_s"] = server.wait_replies(accepted, timeout=120)
            result["replies"] = server.replies
    finally:
        server.stop()
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--no-write", action="store_true")
    p.add_argument(
        "--before",
        metavar="DIR",
        help="also run botrt from DIR, a copy of runtime/ before a change (PYTHONPATH=DIR)",
    )
    args = p.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    labels = {name: label for name, (label, _) in SERVERS.items()}
    if args.before:
        labels["botrt-before"] = BEFORE[0]
    load_before = load_line()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in labels}
    with tempfile.TemporaryDirectory() as tmp:
        lua = Path(tmp) / "callback.lua"
        lua.write_text(LUA, encoding="utf-8")
        for n in range(args.trials):
            for name in labels:
                r = trial(name, args.seconds, lua, n, args.before)
                runs[name].append(r)
                print(
                    f"trial {n + 1}/{args.trials} {name}: {r['rps']:,.0f} req/s, "
                    f"{r['cpu_us']:.0f} µs CPU/request, "
                    f"p99 {r['p99'] / 1000:.1f} ms, non-2xx {r['non2xx']}, "
                    f"drain {r.get('drain_s')}",
                    file=sys.stderr,
                    flush=True,
                )

    def med(name: str, key: str) -> float:
        return float(statistics.median(r[key] for r in runs[name]))

    def ratio(a: str, b: str) -> str:
        # a ÷ b in requests/s, and in requests per CPU second (b's CPU ÷ a's).
        rps = med(a, "rps") / med(b, "rps")
        cpu = med(b, "cpu_us") / med(a, "cpu_us")
        return f"**{rps:.0%}** in requests/s, **{cpu:.0%}** in requests per CPU second"

    def target(a: str, b: str, goal: float) -> str:
        met = min(med(a, "rps") / med(b, "rps"), med(b, "cpu_us") / med(a, "cpu_us")) >= goal
        return "met" if met else "**missed**"

    replying = [name for name in REPLYING if name in runs]
    drains = [r["drain_s"] for name in replying for r in runs[name]]
    drain = "did not finish" if None in drains else f"{statistics.median(drains):.1f} s"
    lost = sum(max(0, r["accepted"] - r["replies"]) for name in replying for r in runs[name])
    rows = []
    for name, label in labels.items():
        rs = runs[name]
        rows.append(
            f"| {label} | {med(name, 'rps'):,.0f} | "
            + ", ".join(f"{r['rps']:,.0f}" for r in rs)
            + f" | {med(name, 'cpu_us'):.0f} | {med(name, 'p50') / 1000:.1f} | "
            f"{med(name, 'p99') / 1000:.1f} | {sum(r['non2xx'] + r['errors'] for r in rs)} |"
        )
    before_line = ""
    if args.before:
        before_line = f"\n- botrt after ÷ before the change: {ratio('botrt', 'botrt-before')}"
    command = f"--trials {args.trials} --seconds {args.seconds}"
    if args.before:
        command += " --before DIR"
    body = f"""## Webhook (Callback API) throughput

Command: `.venv/bin/python benchmarks/webhook.py {command}`
Machine: {machine_line()} ({load_before} at the start, {load_line()} at the end)
Load generator: wrk 4.1 (Debian package), 1 thread, {CONNECTIONS} connections, pinned
to one core; the server pinned to the other; {WARMUP_SECONDS} s warm-up, then
{args.seconds} s timed; every request a distinct `message_new` with the secret.
Storage: SQLite (`sqlite:///:memory:`, kept in a temporary file: WAL, `synchronous=FULL`).

| server | requests/s (median) | trials | CPU µs/request | p50 ms | p99 ms | non-2xx + errors |
| --- | ---: | --- | ---: | ---: | ---: | ---: |
{chr(10).join(rows)}

- botrt ÷ floor: {ratio("botrt", "floor")} (target ≥ 70%: {target("botrt", "floor", 0.7)});
  intake only ÷ floor: {ratio("botrt-intake", "floor")}
- with the durable write ÷ without (the inbox's cost): {ratio("botrt", "botrt-no-inbox")}
  (target ≥ 80%: {target("botrt", "botrt-no-inbox", 0.8)}){before_line}
- every accepted update was also handled (a reply through the stubbed `VkApi`):
  {drain} after the load stopped (median), {lost} left unanswered in all.

botrt answers `ok` once the update is committed to the inbox, before handling
it (handling goes on in the background: the queue, a lane per conversation,
the flow, the reply), so requests/s is what the route itself costs while the
same process also handles every update; the drain time shows how far handling
fell behind the intake. CPU µs/request is the server process's CPU time (all
threads, SQLite's included) over the timed run ÷ the requests answered;
on a busy machine (see the load averages above) requests/s swing by more
than the differences between the servers: read the CPU µs/request column.
"""
    if not args.no_write:
        write_section("webhook", body)
    print(body)


if __name__ == "__main__":
    main()
