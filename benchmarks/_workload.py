"""The dispatch workload every driver runs, botrt's and the peers' alike.

Standard library only: peer drivers import it from their own virtual
environments, where botrt is not installed.

- 20,000 pre-built text events; event i is ``/cmd{i % 50:02d}``.
- (a) one flow shaped as the seed's 7-node DAG ``[[n1, n2], n3, n4, [n5, n6], n7]``:
  14 node runs per event (four paths), every node injected with the event,
  ``n1`` (run once per event) replies.
- (b) 50 command flows ``/cmd00`` ... ``/cmd49``; each event matches exactly one,
  whose handler replies once.
- (c) the same 50 commands spread over 5 priority tiers (command k has priority
  ``k % 5``), so an event passes up to four tiers that hold no match for it.
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

EVENTS = 20_000
WARMUP = 50
COMMANDS = 50
TIERS = 5
WORKLOADS = ("a", "b", "c")


def command(k: int) -> str:
    """The name of command k, without a prefix."""
    return f"cmd{k:02d}"


def tier(k: int) -> int:
    """The priority of command k in workload (c)."""
    return k % TIERS


def texts(events: int = EVENTS, warmup: int = WARMUP) -> list[str]:
    """The texts of the warm-up and timed events, in order."""
    return [f"/{command(i % COMMANDS)}" for i in range(warmup + events)]


def parse_args(variants: Sequence[str] = ()) -> argparse.Namespace:
    """``--workload a|b|c``, ``--events N`` and, where a driver has several, ``--variant``."""
    p = argparse.ArgumentParser()
    p.add_argument("--workload", choices=WORKLOADS, default="b")
    p.add_argument("--events", type=int, default=EVENTS)
    if variants:
        p.add_argument("--variant", choices=variants, default=variants[0])
    return p.parse_args()


CPU_SECONDS: list[float] = []
"""The process CPU time of the last `drive` (less disturbed than wall time on a busy machine)."""


async def drive(
    events: Sequence[Any], step: Callable[[Any], Awaitable[None]], warmup: int = WARMUP
) -> float:
    """Feed `events` to `step` one after another; seconds taken by all but the warm-up."""
    for e in events[:warmup]:
        await step(e)
    timed = events[warmup:]
    cpu = time.process_time()
    started = time.perf_counter()
    for e in timed:
        await step(e)
    elapsed = time.perf_counter() - started
    CPU_SECONDS[:] = [time.process_time() - cpu]
    return elapsed


def rss_mib() -> float:
    """This process's resident memory now, in MiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def report(seconds: float, events: int, replies: int, expected: int, **extra: Any) -> None:
    """Print the trial's figures as one JSON line (the last line of standard output).

    :raises SystemExit: if the handlers did not reply as often as they should have,
        so a broken driver cannot report a figure.
    """
    if replies != expected:
        raise SystemExit(f"expected {expected} replies, got {replies}")
    figures = {"events_per_s": events / seconds, "seconds": seconds, **extra}
    if CPU_SECONDS:
        figures["events_per_cpu_s"] = events / CPU_SECONDS[0]
    print(json.dumps(figures), flush=True)
