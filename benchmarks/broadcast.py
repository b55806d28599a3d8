"""Broadcast: time and API requests to reach 1,000 and 10,000 members under VK's 20 requests/s.

Run: ``.venv/bin/python benchmarks/broadcast.py`` (writes docs/benchmarks.md; about a minute).

Everything talks HTTP to FakeVK on loopback, which refuses more than 20
requests per second per token (error 6), as VK does for a community token.
Three ways to reach every member, measured in the same run:

- the seed article's loop: one ``messages.send(peer_id=...)`` per member, through
  a `VkApi` paced at 20 requests/s (without pacing, VK would refuse most of them).
  At 20 requests/s 10,000 members take 500 s, so it runs on 1,000 members and
  the 10,000 figure is projected;
- `Messenger.send_many` of a started `Host`, in batches of the messenger's
  `batch_size` (100 ``peer_ids`` per ``messages.send``, 25 sends per ``execute``);
- the broadcast plugin in a serving `Host` with SQLite storage: from the admin's
  command arriving by Long Poll to every member reached, each batch recorded,
  and to the report reaching the admin.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine_line, write_section

from botrt.config import parse_config
from botrt.host import Host
from botrt.protocols.vk import VkApi
from botrt.testing._fakevk import FakeVK
from botrt.testing._ports import free_port

ROOT = Path(__file__).resolve().parents[1]
RATE = 20
SIZES = (1_000, 10_000)
NAIVE_MEMBERS = 1_000
TARGET_SECONDS = 2.0
TEXT = "The exam moved to Friday, 10:00, room 214."


def members_of(size: int) -> list[int]:
    # Disjoint id ranges per run, so FakeVK's duplicate check never links two runs.
    start = 10_000_000 * (SIZES.index(size) + 1) if size in SIZES else 90_000_000
    return list(range(start, start + size))


def requests(vk: FakeVK) -> int:
    return sum(vk.calls.values())


async def until(vk: FakeVK, predicate: Callable[[], bool], seconds: float = 120) -> None:
    with anyio.fail_after(seconds):
        await vk.wait_for(predicate)


async def naive_loop(vk: FakeVK) -> tuple[float, int]:
    """The seed article's loop: one paced `messages.send` per member."""
    vk.add_group(900, token="token-naive", members=members_of(NAIVE_MEMBERS))
    async with VkApi("token-naive", api_url=vk.api_url, rate_limit=RATE) as api:
        before = requests(vk)
        started = time.perf_counter()
        for peer in members_of(NAIVE_MEMBERS):
            await api.call("messages.send", peer_id=peer, message=TEXT)
        return time.perf_counter() - started, requests(vk) - before


def admin_of(size: int) -> int:
    # One admin per run: the report of each run's job #1 must not be taken for another's.
    return SIZES.index(size) + 1


def config_for(vk: FakeVK, root: Path, bots: list[dict[str, Any]], admin: int = 1) -> Any:
    root.mkdir(parents=True, exist_ok=True)
    return parse_config(
        {
            "bot": {"admins": [admin]},
            "plugins": {
                "dirs": [str(ROOT / "plugins")],
                "enabled": ["broadcast"],
                "builtin": False,
                "reload": False,
            },
            "storage": {"url": f"sqlite:///{root / 'bench.db'}"},
            "server": {"host": "127.0.0.1", "port": free_port()},
            "bots": [
                {"platform": "vk", "api_url": vk.api_url, "rate_limit": RATE, **b} for b in bots
            ],
        },
        base_dir=root,
    )


async def messenger_runs(vk: FakeVK, root: Path) -> dict[int, tuple[float, int]]:
    """`Messenger.send_many` in batches of `batch_size`, through a started host."""
    bots = []
    for size in SIZES:
        group = 100 + SIZES.index(size)
        vk.add_group(group, token=f"token-m{size}", members=members_of(size))
        bots.append({"name": f"m{size}", "token": f"token-m{size}", "group_id": group})
    results: dict[int, tuple[float, int]] = {}
    async with Host(config_for(vk, root / "messenger", bots)) as host:
        for size in SIZES:
            bot, peers = f"m{size}", members_of(size)
            batch = host.messenger.batch_size(bot)
            before, started = requests(vk), time.perf_counter()
            for i in range(0, size, batch):
                outcomes = await host.messenger.send_many(
                    bot, peers[i : i + batch], TEXT, key=f"bench-{size}-{i}"
                )
                assert all(o.ok for o in outcomes)
            results[size] = (time.perf_counter() - started, requests(vk) - before)
    return results


async def plugin_run(vk: FakeVK, root: Path, size: int) -> tuple[float, float, float, int]:
    """The broadcast command end to end; returns (reply, all reached, report) seconds, requests."""
    group = 200 + SIZES.index(size)
    token = f"token-p{size}"
    admin = admin_of(size)
    vk.add_group(group, token=token, members=[admin, *members_of(size)])
    bot = {"name": f"p{size}", "token": token, "group_id": group}
    host = Host(config_for(vk, root / f"plugin{size}", [bot], admin))
    await host.start()
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: host.serve(signals=False))
            assert host.members is not None
            members = host.members
            await until(vk, lambda: vk.calls["groups.getLongPollServer"] >= 1)
            # Let the start-up member sync store everyone, then let its requests age
            # out of the one-second window, so the job starts with the full rate.
            with anyio.fail_after(60):
                while len(await members.all(bot["name"])) < size + 1:  # noqa: ASYNC110 (stored state)
                    await anyio.sleep(0.05)
            await anyio.sleep(1.1)
            wanted = set(members_of(size))

            def reached() -> bool:
                return len(wanted & {m.peer_id for m in vk.sent[-size - 10 :]}) == size

            def said(prefix: str) -> bool:
                return any(m.text.startswith(prefix) for m in vk.sent_to(admin))

            before, started = requests(vk), time.perf_counter()
            vk.push_message(group, admin, f"/mb {TEXT}")
            await until(vk, lambda: said("Broadcast #1 started"))
            replied = time.perf_counter() - started
            await until(vk, reached)
            all_reached = time.perf_counter() - started
            await until(vk, lambda: said("Broadcast #1 finished"))
            reported = time.perf_counter() - started
            used = requests(vk) - before  # API requests only: Long Poll is counted apart
            with anyio.fail_after(10):
                await host.background.wait_idle("broadcast")
            host.request_stop()
    finally:
        await host.stop()
    return replied, all_reached, reported, used


async def main() -> None:
    async with FakeVK(rate_limit=RATE, longpoll_wait_cap=1.0) as vk:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            messenger = await messenger_runs(vk, root)
            plugin = {}
            for size in SIZES:
                plugin[size] = await plugin_run(vk, root, size)
            naive_seconds, naive_requests = await naive_loop(vk)
        refused = vk.rate_limited

    projected = naive_seconds * 10_000 / NAIVE_MEMBERS
    ten_k = plugin[10_000][1]
    verdict = "met" if ten_k <= TARGET_SECONDS else "NOT met"
    rows = [
        f"| seed article's loop: `messages.send(peer_id=…)` per member, paced | "
        f"{NAIVE_MEMBERS:,} | {naive_requests:,} | {naive_seconds:.1f} s |",
        f"| seed article's loop, projected from the line above | 10,000 | 10,000 | "
        f"≈ {projected:.0f} s (not run) |",
    ]
    for size in SIZES:
        seconds, used = messenger[size]
        rows.append(
            f"| `Messenger.send_many` via a `Host`, batches of 2,500 | {size:,} | {used} | "
            f"{seconds:.2f} s |"
        )
    for size in SIZES:
        replied, reached, reported, used = plugin[size]
        rows.append(
            f"| broadcast plugin: `/mb` by Long Poll → everyone reached (report) | {size:,} | "
            f"{used} | {reached:.2f} s ({reported:.2f} s; reply in {replied * 1e3:.0f} ms) |"
        )
    table = "\n".join(rows)
    body = f"""## Broadcast to every member

Command: `.venv/bin/python benchmarks/broadcast.py`
Machine: {machine_line()}

FakeVK on loopback refuses more than {RATE} requests/s per token, like VK for a
community token; every client here paces itself at {RATE}/s. Requests count
every API call the path made (the plugin's: the command's reply, the batches,
the report; not Long Poll).

| path | members | API requests | time |
| --- | --- | --- | --- |
{table}

Target: 10,000 members in ≤ {TARGET_SECONDS:.0f} s through the broadcast plugin: **{verdict}**
({ten_k:.2f} s). Requests refused with error 6 during the run: {refused}.
The seed's loop is bound by the rate limit (one member per request, 20 a
second); batching puts 2,500 members in one `execute` request (25 ×
`messages.send` with 100 `peer_ids`), so 10,000 members are 4 requests. The
plugin adds its durability on top: the job and its recipients are committed
before the reply (the reply's time is mostly that commit), and each batch's
outcomes after it is sent (SQLite, FULL sync). The plugin's communities also hold
the admin who sends `/mb`, so its jobs have 1,001 and 10,001 recipients (the
latter 5 batches).
"""
    write_section("broadcast", body)
    print(body)


if __name__ == "__main__":
    anyio.run(main)
