"""Three `botrt serve` workers on one PostgreSQL behind a real HAProxy (issue 17 item 6).

FakeVK's Callback API sender POSTs the ``hooked`` bot's updates through HAProxy (round
robin over the workers) and retries each until `ok`, as VK does; the ``poller`` bot's
updates come by Long Poll, which one worker leads. Each scenario checks that every
update was replied to and no user saw a reply twice; timing figures are printed,
never asserted tight (the machine is shared).

Cross-worker ordering of one user's updates is not checked here.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import anyio
import pytest
from clusterkit import (
    POLLED_GROUP,
    ROOT,
    Cluster,
    Traffic,
    check,
    restart_postgres,
    under_load,
    while_progress,
)

from _workers import LIMIT, until
from botrt.testing._fakevk import FakeVK
from botrt.testing._postgres import start_postgres

pytest.importorskip("botrt.storage._lease", reason="the storage's leases")

pytestmark = pytest.mark.anyio

# VK's own limit for a token, 20 requests/s: the workers share each Callback bot's
# rate_limit among themselves (docs/cluster.md), so together they keep to it.
RATE = 20


@pytest.mark.timeout(600)
async def test_steady_load_is_spread_over_the_workers(tmp_path: Path, postgres_url: str) -> None:
    async with FakeVK(longpoll_wait_cap=0.5, rate_limit=RATE) as vk:
        async with Cluster(tmp_path, vk, postgres_url) as cluster, cluster.balancer() as lb:
            traffic = Traffic(vk, lb.url("/vk/hooked"))
            began = time.monotonic()
            await traffic.run(120)
            await traffic.until_all_replied()
            took = time.monotonic() - began
        by_worker = Counter(pid for pid, bot, _ in cluster.handled() if bot == "hooked")
    handled = check(traffic, cluster, again_allowed=False)
    print(
        f"{len(traffic.sent)} updates in {took:.1f} s; callback updates per worker: "
        f"{sorted(by_worker.values())}; retried posts: {traffic.retried}"
    )
    assert len(handled) == len(traffic.sent)
    assert set(by_worker) == {w.pid for w in cluster.workers}, "a worker handled nothing"


@pytest.mark.timeout(600)
async def test_sigterm_of_each_worker_in_turn_loses_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    async with (
        FakeVK(longpoll_wait_cap=0.5, rate_limit=RATE) as vk,
        Cluster(tmp_path, vk, postgres_url) as cluster,
        under_load(cluster, pace=0.03) as traffic,
    ):
        for worker in cluster.workers:
            await traffic.wait_sent(20)
            assert await worker.terminate() == 0
            await worker.start()
            await worker.ready()
    check(traffic, cluster, again_allowed=False)
    print(f"{len(traffic.sent)} updates; retried posts: {traffic.retried}")


@pytest.mark.timeout(600)
async def test_kill_9_of_the_long_poll_leader_under_load(tmp_path: Path, postgres_url: str) -> None:
    async with (
        FakeVK(longpoll_wait_cap=0.5, rate_limit=RATE) as vk,
        Cluster(tmp_path, vk, postgres_url) as cluster,
        under_load(cluster, polled_every=2) as traffic,
    ):
        await traffic.wait_sent(40)
        epoch, leader = cluster.leader()
        await leader.kill()
        killed = time.monotonic()
        await until(lambda: cluster.leader()[0] != epoch)
        failover = time.monotonic() - killed
        await traffic.wait_sent(20)
    handled = check(traffic, cluster, again_allowed=True)
    again = sum(n - 1 for n in handled.values())
    print(f"failover after kill -9: {failover:.2f} s; handled again: {again}")
    assert cluster.leader()[1] is not leader


@pytest.mark.timeout(600)
async def test_a_postgresql_restart_mid_run_loses_nothing(tmp_path: Path) -> None:
    # A server of its own: restarting the session's shared one would disturb other tests.
    with start_postgres(tmp_path / "pg") as server:
        url = server.create_database()
        async with (
            FakeVK(longpoll_wait_cap=0.5, rate_limit=RATE) as vk,
            Cluster(tmp_path, vk, url) as cluster,
        ):
            async with under_load(cluster, pace=0.03) as traffic:
                await traffic.wait_sent(30)
                began = time.monotonic()
                await anyio.to_thread.run_sync(restart_postgres, server)
                restarted = time.monotonic() - began
                await traffic.wait_sent(30)
            alive = [w.name for w in cluster.workers if w.alive]
    handled = check(traffic, cluster, again_allowed=True)
    again = sum(n - 1 for n in handled.values())
    print(
        f"PostgreSQL down for {restarted:.2f} s; {len(traffic.sent)} updates; "
        f"handled again: {again}; retried posts: {traffic.retried}"
    )
    assert alive == [w.name for w in cluster.workers], "a worker exited on the restart"


MEMBERS = 1000
ADMIN = 1
BROADCAST = "Exam moved to Friday"


@pytest.mark.timeout(600)
async def test_a_broadcast_to_1000_members_survives_a_kill_9_halfway(
    tmp_path: Path, postgres_url: str
) -> None:
    members = [ADMIN, *range(100_000, 100_000 + MEMBERS - 1)]
    async with FakeVK(longpoll_wait_cap=0.5, rate_limit=RATE) as vk:
        vk.add_group(
            POLLED_GROUP, token="token-polled", members=members, managers={ADMIN: "creator"}
        )
        cluster = Cluster(
            tmp_path,
            vk,
            postgres_url,
            plugins=f'dirs = ["{ROOT / "plugins"}", "{tmp_path / "plugins"}"]\n'
            'enabled = ["broadcast", "tally"]\nbuiltin = false\n\n'
            "[plugins.settings.broadcast]\nbatch_size = 50",
            keep_groups={POLLED_GROUP},
        )
        async with cluster:
            synced = f"members of poller synced: {MEMBERS}"
            await until(lambda: any(w.says(synced) for w in cluster.workers))
            vk.slow(0.2)  # each request takes a while: the job is caught halfway
            _, leader = cluster.leader()
            vk.push_message(POLLED_GROUP, ADMIN, f"/mb {BROADCAST}")
            with anyio.fail_after(LIMIT):
                await vk.wait_for(lambda: len(broadcast_counts(vk)) >= MEMBERS // 2)
            # The job runs where the command was handled: on the Long Poll leader.
            await leader.kill()
            halfway = len(broadcast_counts(vk))
            vk.slow(0)
            await while_progress(vk, lambda: bool(reports(vk)), lambda: len(vk.sent))
    print(f"killed after {halfway} of {MEMBERS} recipients")
    assert broadcast_counts(vk) == Counter(members)  # nobody missed, nobody twice
    assert len(reports(vk)) == 1


def broadcast_counts(vk: FakeVK) -> Counter[int]:
    return Counter(m.peer_id for m in vk.sent if m.text == BROADCAST)


def reports(vk: FakeVK) -> list[str]:
    return [m.text for m in vk.sent_to(ADMIN) if m.text.startswith("Broadcast #1 finished")]
