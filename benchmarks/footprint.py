"""Footprint: ``botrt serve`` start-up time to the first reply, and idle memory, beside melobot.

Run: ``.venv/bin/python benchmarks/footprint.py [--trials 5]`` (writes the
``footprint`` section of docs/benchmarks.md; installs melobot into
``benchmarks/.venvs/`` on first use).

botrt: ``botrt serve`` on a fresh ``bot.toml`` in a temporary folder with the
defaults (console on, SQLite file, plugin watcher on) and the built-in plugins
(``[plugins] builtin = true``: whatever ``plugins/`` holds). The clock starts
just before the process is spawned; ``/help`` is already waiting on its
standard input (a pipe, the documented scriptable session); it stops when the
first line of the reply arrives. Idle RSS is read from ``/proc`` one second
later; then standard input is closed and the bot must exit 0.

melobot: ``peers/melobot_footprint.py``, a console bot with three trivial
plugin folders, in a pseudo-terminal (its console needs one); the clock stops
when its ``/help`` reply appears. Trials alternate; one untimed run of each
first, so both start with their bytecode cached. Median of the trials.

Both run with Python's default of writing bytecode caches, as a user's bot does:
``PYTHONDONTWRITEBYTECODE``, if set where the benchmark runs, is removed from
their environment (with it set, a module edited since its ``.pyc`` was written
is compiled again on every start, and the untimed run cannot cache it).

``--instructions`` instead counts the instructions ``botrt serve`` runs up to
its first reply, under ``valgrind --tool=callgrind`` (which the machine's load
cannot disturb): the same set-up, with callgrind's counters dumped
(``callgrind_control -d``) as soon as the reply's first line arrives. With
``--pythonpath DIR``, botrt is imported from ``DIR`` (for instance a
``runtime/`` tree of an earlier commit, with its ``plugins/`` beside it), to
compare before and after. Nothing is written to the docs in this mode.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import BOTRT_PYTHON, load_line, peer_python
from _report import machine_line, write_section

HERE = Path(__file__).resolve().parent
BOTRT = str(Path(BOTRT_PYTHON).parent / "botrt")
IDLE_WAIT = 1.0
# What a user's process has: Python's default, bytecode caches written (see the docstring).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

BOT_TOML = """
[plugins]
dirs = []
builtin = true
"""


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def env_with(pythonpath: str | None) -> dict[str, str]:
    """`ENV`, with `pythonpath` as ``PYTHONPATH`` when given."""
    return ENV if pythonpath is None else {**ENV, "PYTHONPATH": pythonpath}


def serve_help(argv: list[str], tmp: str, pythonpath: str | None) -> subprocess.Popen[str]:
    """Start `argv` (``botrt serve`` or a wrapper of it) on a fresh bot in `tmp`, `/help` on
    its standard input; return once the first line of the reply is read."""
    config = Path(tmp) / "bot.toml"
    config.write_text(BOT_TOML, encoding="utf-8")
    proc = subprocess.Popen(
        [*argv, "serve", "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env_with(pythonpath),
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write("/help\n")
    proc.stdin.flush()
    if not proc.stdout.readline().strip():
        proc.kill()
        raise RuntimeError("botrt serve gave no reply to /help")
    return proc


def stop(proc: subprocess.Popen[str], timeout: float) -> None:
    """Close `proc`'s standard input (the console's end) and wait for a clean exit."""
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.close()
    proc.stdout.read()
    if proc.wait(timeout=timeout) != 0:
        raise RuntimeError(f"botrt serve exited {proc.returncode}")


def botrt_trial(pythonpath: str | None = None) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        proc = serve_help([BOTRT], tmp, pythonpath)
        elapsed = time.perf_counter() - started
        time.sleep(IDLE_WAIT)
        rss = rss_mib(proc.pid)
        stop(proc, 30)
    return elapsed, rss


def botrt_instructions(pythonpath: str | None) -> int:
    """Instructions `botrt serve` runs from its start up to the first line of its reply."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", BOTRT_PYTHON]
        proc = serve_help([*valgrind, BOTRT], tmp, pythonpath)
        # The dump holds what ran up to now; the rest goes to the final file.
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
        stop(proc, 600)
        (dump,) = Path(tmp).glob("callgrind.out.*")
        return sum(
            int(line.split()[1])
            for line in dump.read_text().splitlines()
            if line.startswith("totals:")
        )


def melobot_trial(python: str) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        master, slave = pty.openpty()
        started = time.perf_counter()
        proc = subprocess.Popen(
            [python, str(HERE / "peers" / "melobot_footprint.py"), tmp],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
            env=ENV,
        )
        os.close(slave)
        os.write(master, b"/help\r")
        seen = b""
        elapsed = None
        try:
            while time.perf_counter() - started < 60:
                ready, _, _ = select.select([master], [], [], 0.5)
                if ready:
                    seen += os.read(master, 65536)
                    if b"help: ping, echo" in seen:
                        elapsed = time.perf_counter() - started
                        break
            if elapsed is None:
                raise RuntimeError(f"melobot gave no reply: {seen[-500:]!r}")
            time.sleep(IDLE_WAIT)
            rss = rss_mib(proc.pid)
        finally:
            proc.kill()
            proc.wait()
            os.close(master)
    return elapsed, rss


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--no-peers", action="store_true")
    p.add_argument("--no-write", action="store_true")
    p.add_argument(
        "--instructions",
        action="store_true",
        help="count botrt's instructions to the first reply (callgrind) instead; writes nothing",
    )
    p.add_argument("--pythonpath", default=None, help="with --instructions: import botrt from here")
    args = p.parse_args()
    if args.instructions:
        botrt_trial(args.pythonpath)  # bytecode caches, as for the timed runs
        counts = [botrt_instructions(args.pythonpath) for _ in range(args.trials)]
        print(f"instructions to the first reply: {counts}, median {statistics.median(counts):,.0f}")
        return
    melobot = None if args.no_peers else peer_python("melobot")
    load_before = load_line()
    botrt_trial()  # untimed: bytecode caches
    if melobot:
        melobot_trial(melobot)
    runs: dict[str, list[tuple[float, float]]] = {"botrt": [], "melobot": []}
    for n in range(args.trials):
        runs["botrt"].append(botrt_trial())
        if melobot:
            runs["melobot"].append(melobot_trial(melobot))
        print(f"trial {n + 1}/{args.trials}: {runs}", file=sys.stderr, flush=True)

    def med(name: str, i: int) -> float:
        return float(statistics.median(r[i] for r in runs[name]))

    plugins = sorted(
        d.name for d in (HERE.parent / "plugins").iterdir() if (d / "__plugin__.py").exists()
    )
    start, rss = med("botrt", 0), med("botrt", 1)
    label = f"botrt `serve`, built-in plugins ({', '.join(plugins)})"
    rows = [f"| {label} | {start:.2f} s | {rss:.0f} MiB |"]
    if melobot:
        rows.append(
            f"| melobot 3.5.1, console, 3 trivial plugins | {med('melobot', 0):.2f} s "
            f"| {med('melobot', 1):.0f} MiB |"
        )
    body = f"""## Footprint

Command: `.venv/bin/python benchmarks/footprint.py --trials {args.trials}`
Machine: {machine_line()} ({load_before} at the start, {load_line()} at the end)

| bot | start-up to first reply (median of {args.trials}) | idle RSS |
| --- | ---: | ---: |
{chr(10).join(rows)}

- botrt start-up: {start:.2f} s (target ≤ 0.5 s: {"met" if start <= 0.5 else "**missed**"})
- botrt idle RSS: {rss:.0f} MiB (target ≤ 60 MB: {"met" if rss <= 60 else "**missed**"})

botrt: `botrt serve` on a fresh `bot.toml` (console, SQLite file, plugin
watcher, built-in plugins), `/help` already waiting on its standard input (a
pipe); the time runs from spawning the process to the first line of the
reply; RSS {IDLE_WAIT:.0f} s after it. melobot: its console protocol needs a
terminal, so it runs in a pseudo-terminal; three plugin folders with one
command each, `load_plugins_dir`, `bot.run()`; the time runs to its `/help` reply.
"""
    if not args.no_write:
        write_section("footprint", body)
    print(body)


if __name__ == "__main__":
    main()
