"""The dispatch workload every driver runs, botrt's and the peers' alike.

Standard library only: peer drivers import it from their own virtual
environments, where botrt is not installed.

- Text events; event i is ``/cmdKK`` with KK = ``i * STRIDE % 50`` (every 50
  consecutive events name each command once), built in chunks ahead of being
  timed (`drive`); each trial times at least one second of them.
- (a) one flow shaped as the seed's 7-node DAG ``[[n1, n2], n3, n4, [n5, n6], n7]``:
  14 node runs per event (four paths), every node injected with the event,
  ``n1`` (run once per event) replies.
- (b) 50 command flows ``/cmd00`` ... ``/cmd49``; each event matches exactly one,
  whose handler replies once.
- (c) the same 50 commands spread over 5 priority tiers (command k has priority
  ``k % 5``), plus one catch-all flow above them (priority `CATCH_ALL`) that
  sees every text and counts it without replying: every event runs it, then
  walks down the tiers to its command (up to four tiers without a match).
- Replies go into an in-memory list (the stub at the lowest outgoing seam).
- Events are fed one after another, each fully handled before the next; the
  first 50 are a warm-up and are not timed.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

WARMUP = 50
COMMANDS = 50
TIERS = 5
CATCH_ALL = TIERS
"""The priority of workload (c)'s catch-all flow: above every command's tier."""
MIN_SECONDS = 1.0
CHUNK = 2_000
WORKLOADS = ("a", "b", "c")


def command(k: int) -> str:
    """The name of command k, without a prefix (``cmd00`` ... ``cmd49``, ``cmd999``)."""
    return f"cmd{k:02d}"


def tier(k: int) -> int:
    """The priority of command k in workload (c)."""
    return k % TIERS


def parse_args(variants: Sequence[str] = ()) -> argparse.Namespace:
    """``--workload a|b|c``, ``--seconds S`` (timed, at least) and, where a driver has
    several, ``--variant``."""
    p = argparse.ArgumentParser()
    p.add_argument("--workload", choices=WORKLOADS, default="b")
    p.add_argument("--seconds", type=float, default=MIN_SECONDS)
    p.add_argument("--commands", type=int, default=COMMANDS, help="how many commands (b, c)")
    p.add_argument(
        "--events", type=int, default=None, help="time exactly N events instead (callgrind)"
    )
    if variants:
        p.add_argument("--variant", choices=variants, default=variants[0])
    return p.parse_args()


CPU_SECONDS: list[float] = []
"""The process CPU time of the last `drive` (less disturbed than wall time on a busy machine)."""


STRIDE = 7919
"""A prime: event i names command ``i * STRIDE % commands``, so any `commands`
consecutive events name every command once, in an order that jumps about (a
framework trying handlers in order meets early and late ones alike, however
few events a trial times)."""


def text(i: int, commands: int = COMMANDS) -> str:
    """The text of event i when there are `commands` commands."""
    return f"/{command(i * STRIDE % commands)}"


async def drive(
    make: Callable[[int, int], Sequence[Any]],
    step: Callable[[Any], Awaitable[None]],
    *,
    seconds: float = MIN_SECONDS,
    warmup: int = WARMUP,
    events: int | None = None,
) -> tuple[int, float]:
    """Feed events to `step` one after another until `seconds` of them are timed.

    ``make(start, count)`` builds events ``start .. start + count - 1``; it is
    called between chunks of `CHUNK` events with the clock stopped, so no
    trial holds a whole run's events in memory and building them is never
    timed. The first `warmup` events are not timed. With `events`, exactly
    that many are timed, however long they take. Returns the number of timed
    events and the wall seconds they took; their CPU seconds go to `CPU_SECONDS`.
    """
    for e in make(0, warmup):
        await step(e)
    done, wall, cpu = 0, 0.0, 0.0
    size = 100  # then about a quarter of `seconds` per chunk, so slow contenders stop on time
    while (wall < seconds) if events is None else (done < events):
        if events is not None:
            size = min(CHUNK, events - done)
        chunk = make(warmup + done, size)
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        for e in chunk:
            await step(e)
        took = time.perf_counter() - t0
        wall += took
        cpu += time.process_time() - cpu0
        done += len(chunk)
        size = max(10, min(CHUNK, int(len(chunk) * seconds / 4 / max(took, 1e-6))))
    CPU_SECONDS[:] = [cpu]
    return done, wall


def rss_mib() -> float:
    """This process's resident memory now, in MiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def report(events: int, seconds: float, replies: int, expected: int, **extra: Any) -> None:
    """Print the trial's figures as one JSON line (the last line of standard output).

    :raises SystemExit: if the handlers did not reply as often as they should have,
        so a broken driver cannot report a figure.
    """
    if replies != expected:
        raise SystemExit(f"expected {expected} replies, got {replies}")
    figures = {"events_per_s": events / seconds, "seconds": seconds, "events": events, **extra}
    if CPU_SECONDS:
        figures["events_per_cpu_s"] = events / CPU_SECONDS[0]
    print(json.dumps(figures), flush=True)
