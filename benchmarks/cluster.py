"""Several workers: Callback updates handled per second with 1, 2 and 3 `botrt serve`
workers behind HAProxy, each worker's CPU seconds, and the Long Poll failover after
``kill -9`` of the leader.

Run: ``.venv/bin/python benchmarks/cluster.py [--updates 2000] [--kills 20]``
(writes the ``cluster`` section of docs/benchmarks.md; ``--no-write`` only prints).
Needs HAProxy (``bash .ci/haproxy.sh``) and PostgreSQL's server (``bash .ci/postgres.sh``).

The harness is the cluster tests' (``tests/cluster/clusterkit.py``): real workers on a
throwaway PostgreSQL, FakeVK on VK's side (its rate limit raised out of the way), the
tests' plugin (one command, which writes a line and replies). Throughput: `--updates`
distinct Callback updates POSTed through HAProxy by 16 concurrent senders on
kept-alive connections, timed from the
first POST until FakeVK has every reply. Failover: a cluster of two workers; the Long
Poll leader is killed, the time until another worker's log says it leads is taken, the
dead worker is started again, `--kills` times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import anyio

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "cluster"))
sys.path.insert(0, str(HERE.parent / "tests"))  # clusterkit's workers: tests/_workers.py

from _report import machine_line, write_section  # noqa: E402
from clusterkit import SECRET, Cluster, HAProxy, Traffic  # noqa: E402

from _workers import until  # noqa: E402
from botrt.testing._fakevk import FakeVK  # noqa: E402
from botrt.testing._postgres import PostgresServer, start_postgres  # noqa: E402

SENDERS = 16
NOTES = """\
How to read it: no worker is near a full core (CPU seconds per worker against
the run's wall time), and the machine's two cores also run PostgreSQL,
HAProxy, the sender and FakeVK (and, when this was run, other work: see the
load average). A profile of one worker of two (cProfile, 2000 updates) put
most of its time in socket sends and polls, i.e. round trips to PostgreSQL:
the two workers ran 8,778 transactions for 2,000 updates, each with a pool
ping, BEGIN and COMMIT around its statement. Before this run every worker
read its partitions at every notification, whoever owned the update (1,808
of one worker's transactions were such reads); now the trigger names the
partition and only its owner reads. What still grows with the workers: the
16 senders are split among them, so each worker's group commit is smaller
and there are more commits per update, and each worker adds its own lease
rounds and timer reads. On one 2-core machine throughput therefore falls
rather than grows; workers on separate machines spread the handling's CPU,
and here they are for surviving a lost process. Failover is a lease running
out (0.4 of `failover`) and the standby's look at that very moment (it sleeps
until the expiry it read), plus the take-over's round trip."""
FAILOVER = 5


async def throughput(
    server: PostgresServer, folder: Path, workers: int, updates: int
) -> dict[str, Any]:
    """Updates/s through HAProxy with `workers` workers, and each worker's CPU seconds."""
    async with FakeVK(longpoll_wait_cap=0.5, rate_limit=100_000) as vk:
        cluster = Cluster(folder, vk, server.create_database(), count=workers, failover=FAILOVER)
        try:
            await cluster.start()
            async with HAProxy(folder, [w.port for w in cluster.workers]) as lb:
                traffic = Traffic(vk, lb.url("/vk/hooked"))
                bodies = [traffic.next_callback() for _ in range(updates)]
                cpu = [w.cpu_seconds() for w in cluster.workers]
                own = time.process_time()
                began = time.perf_counter()
                await post_all(traffic.url, bodies)
                await traffic.until_all_replied()
                took = time.perf_counter() - began
                own = time.process_time() - own
                cpu = [w.cpu_seconds() - c for w, c in zip(cluster.workers, cpu, strict=True)]
        finally:
            await cluster.close()
    return {"workers": workers, "per_s": updates / took, "cpu": cpu, "own": own}


async def post_all(url: str, bodies: list[dict[str, Any]]) -> None:
    """POST every update, `SENDERS` at a time on kept-alive connections; each must get `ok`."""
    queue = list(reversed(bodies))
    async with aiohttp.ClientSession() as session:

        async def sender() -> None:
            while queue:
                body = {**queue.pop(), "secret": SECRET}
                async with session.post(url, json=body) as response:
                    answer = await response.text()
                if answer != "ok":
                    raise RuntimeError(f"the cluster answered {response.status} {answer!r}")

        async with anyio.create_task_group() as tg:
            for _ in range(SENDERS):
                tg.start_soon(sender)


async def failovers(server: PostgresServer, folder: Path, kills: int) -> list[float]:
    """Seconds from ``kill -9`` of the Long Poll leader until another worker leads."""
    times = []
    async with FakeVK(longpoll_wait_cap=0.5, rate_limit=100_000) as vk:
        cluster = Cluster(folder, vk, server.create_database(), count=2, failover=FAILOVER)
        try:
            await cluster.start()
            for _ in range(kills):
                epoch, leader = cluster.leader()
                await leader.kill()
                killed = time.perf_counter()
                await until(lambda: cluster.leader()[0] != epoch)  # noqa: B023
                times.append(time.perf_counter() - killed)
                await leader.start()
                await leader.wait_says("stands by for vk-longpoll:poller")
        finally:
            await cluster.close()
    return times


async def main(updates: int, kills: int) -> str:
    with tempfile.TemporaryDirectory(prefix="botrt-cluster-") as tmp:
        root = Path(tmp)
        with start_postgres(root / "pg") as server:
            rows = []
            for n in (1, 2, 3):
                rows.append(await throughput(server, root / f"n{n}", n, updates))
                print(rows[-1], flush=True)
            times = await failovers(server, root / "failover", kills)
    load = os.getloadavg()[0]
    lines = [
        "## Several workers (cluster)",
        "",
        f"Command: `.venv/bin/python benchmarks/cluster.py --updates {updates} --kills {kills}`",
        f"Machine: {machine_line()} (load average {load:.1f} at the end)",
        "",
        f"Callback updates through HAProxy ({updates} distinct updates, {SENDERS} concurrent "
        "senders on kept-alive connections, timed until every reply reached FakeVK; "
        "PostgreSQL, HAProxy, the sender and FakeVK share the same 2 cores):",
        "",
        "| workers | updates/s | CPU seconds per worker | CPU seconds of the sender and FakeVK |",
        "| --- | --- | --- | --- |",
    ]
    for row in rows:
        cpu = ", ".join(f"{c:.1f}" for c in row["cpu"])
        lines.append(f"| {row['workers']} | {row['per_s']:.0f} | {cpu} | {row['own']:.1f} |")
    lines += [
        "",
        f"Long Poll failover after `kill -9` of the leader (`failover = {FAILOVER}`), "
        f"{len(times)} kills: median {statistics.median(times):.2f} s, "
        f"worst {max(times):.2f} s (from the kill until another worker's log says it leads).",
        "",
        NOTES,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    body = anyio.run(main, args.updates, args.kills)
    print(body)
    if not args.no_write:
        write_section("cluster", body)
