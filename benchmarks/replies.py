"""Replies under VK's own limit: replies/s end to end through FakeVK at 20 requests/s,
with the replies coalesced into `execute` (the default) and without (``coalesce=False``).

Run: ``.venv/bin/python benchmarks/replies.py [--trials 3]`` (writes the ``replies``
section of docs/benchmarks.md; about two minutes).

Everything talks HTTP to FakeVK on loopback, which refuses more than 20 API
requests per second per token (error 6), as VK does for a community token.
A serving `Host` with one VK bot on Bots Long Poll runs a plugin that answers
every message (``re: <text>``). A lecture hall writes at once: `USERS` users
each send `PER_USER` messages, all pushed to FakeVK in one go; the clock runs
from the push until FakeVK has recorded the last reply. Every reply is checked:
one per message, to its sender, in the order each user wrote.

- coalesced: replies that wait for the rate limiter together go out in one
  ``execute`` (up to 25 ``messages.send`` calls a request);
- one by one: the same host with ``VkApi.coalesce = False``: a request per reply,
  so at most 20 replies a second (run with fewer users, it would take minutes).

Beside them, the latency of a lone reply (the limiter has room) with and
without coalescing: `VkApi.messages.send` to FakeVK, timed one at a time, and
checked to have gone out as a plain ``messages.send``.

Trials alternate the two ways; figures are medians. The machine is shared:
compare within one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import load_line
from _report import machine_line, write_section

from botrt.config import parse_config
from botrt.host import Host
from botrt.protocols.vk import VkApi
from botrt.testing._fakevk import FakeVK
from botrt.testing._ports import free_port

RATE = 20
USERS = 2000
PER_USER = 3
SLOW_USERS = 100  # one by one: 300 replies at 20/s take 15 seconds
TARGET = 450.0
LONE = 15

PLUGIN = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_text

PLUGIN = PluginPlanner("1.0.0")


@PLUGIN.use
@on_text()
async def answer(event: TextEvent) -> None:
    await event.reply("re: " + event.text)
"""


def config_for(vk: FakeVK, root: Path, token: str, group: int) -> Any:
    (root / "plugins" / "answer").mkdir(parents=True, exist_ok=True)
    (root / "plugins" / "answer" / "__plugin__.py").write_text(PLUGIN, encoding="utf-8")
    return parse_config(
        {
            "plugins": {"dirs": [str(root / "plugins")], "builtin": False, "reload": False},
            "storage": {"url": "sqlite:///:memory:"},
            "server": {"host": "127.0.0.1", "port": free_port()},
            "bots": [
                {
                    "name": "hall",
                    "platform": "vk",
                    "api_url": vk.api_url,
                    "token": token,
                    "group_id": group,
                    "rate_limit": RATE,
                }
            ],
        },
        base_dir=root,
    )


async def hall(vk: FakeVK, root: Path, run: int, users: int, coalesce: bool) -> dict[str, Any]:
    """`users` users write `PER_USER` messages each at once; replies/s until the last reply."""
    group, token = 500 + run, f"token-{run}"
    first = 1_000_000 * (run + 1)
    people = list(range(first, first + users))
    vk.add_group(group, token=token, members=people)
    host = Host(config_for(vk, root / f"run{run}", token, group))
    await host.start()
    try:
        api: VkApi = host.outbound["hall"].api  # type: ignore[attr-defined]
        api.coalesce = coalesce
        polls = vk.longpoll_requests
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: host.serve(signals=False))
            with anyio.fail_after(60):
                await vk.wait_for(lambda: vk.longpoll_requests > polls)
            # Let the start-up requests (the member sync) age out of VK's one-second window.
            await anyio.sleep(1.2)
            before, requests = len(vk.sent), api.stats.requests
            wanted = users * PER_USER
            started = time.perf_counter()
            for k in range(PER_USER):
                for person in people:
                    vk.push_message(group, person, f"{person} #{k}")
            with anyio.fail_after(600):
                await vk.wait_for(lambda: len(vk.sent) - before >= wanted)
            seconds = time.perf_counter() - started
            host.request_stop()
    finally:
        await host.stop()
    sent = vk.sent[before:]
    for person in people:  # every message answered, to its sender, in order
        got = [m.text for m in sent if m.peer_id == person]
        expected = [f"re: {person} #{k}" for k in range(PER_USER)]
        if got != expected:
            raise SystemExit(f"user {person}: expected {expected}, got {got}")
    stats = api.stats
    return {
        "replies": len(sent),
        "seconds": seconds,
        "replies_per_s": len(sent) / seconds,
        "requests": stats.requests - requests,
        "coalesced": stats.coalesced,
    }


async def lone_latency(vk: FakeVK, coalesce: bool) -> float:
    """Median seconds of `LONE` replies sent one at a time, the limiter never full."""
    group, token = 990 + coalesce, f"token-lone-{coalesce}"
    vk.add_group(group, token=token)
    await anyio.sleep(1.1)  # an empty window at VK
    before = dict(vk.calls)
    times = []
    async with VkApi(token, api_url=vk.api_url, rate_limit=RATE, coalesce=coalesce) as api:
        await api.messages.send(peer_id=1, message="warm-up")
        for i in range(LONE):
            await anyio.sleep(2 / RATE)  # alone: nothing else sent just before
            started = time.perf_counter()
            await api.messages.send(peer_id=2 + i, message="alone")
            times.append(time.perf_counter() - started)
    if vk.calls["execute"] != before.get("execute", 0):
        raise SystemExit("a lone reply went out in an execute")
    return statistics.median(times)


async def main(trials: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"coalesced": [], "one by one": []}
    lone: dict[str, list[float]] = {"coalesced": [], "one by one": []}
    async with FakeVK(rate_limit=RATE, longpoll_wait_cap=1.0) as vk:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            run = 0
            for trial in range(trials):
                for name, coalesce, users in (
                    ("coalesced", True, USERS),
                    ("one by one", False, SLOW_USERS),
                ):
                    result = await hall(vk, root, run, users, coalesce)
                    run += 1
                    runs[name].append(result)
                    lone[name].append(await lone_latency(vk, coalesce))
                    print(
                        f"trial {trial + 1}/{trials} {name}: {result['replies_per_s']:.0f} "
                        f"replies/s, {result['requests']} requests, lone reply "
                        f"{lone[name][-1] * 1e3:.1f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
        refused = vk.rate_limited
    return {"runs": runs, "lone": lone, "refused": refused}


def report(figures: dict[str, Any], trials: int, load_before: str) -> str:
    runs, lone = figures["runs"], figures["lone"]
    rows = []
    med: dict[str, float] = {}
    for name, results in runs.items():
        med[name] = statistics.median(r["replies_per_s"] for r in results)
        spread = ", ".join(f"{r['replies_per_s']:.0f}" for r in results)
        r0 = results[0]
        rows.append(
            f"| {name} | {r0['replies']:,} | {med[name]:.0f} | {spread} | "
            f"{statistics.median(r['requests'] for r in results):.0f} | "
            f"{statistics.median(lone[name]) * 1e3:.1f} ms |"
        )
    ratio = med["coalesced"] / med["one by one"]
    lone_ratio = statistics.median(lone["coalesced"]) / statistics.median(lone["one by one"])
    mark = "met" if med["coalesced"] >= TARGET else "**missed**"
    return f"""## Replies under VK's limit: coalesced into `execute`

Command: `.venv/bin/python benchmarks/replies.py --trials {trials}`
Machine: {machine_line()} ({load_before} at the start, {load_line()} at the end)

End to end over loopback HTTP: FakeVK refuses more than {RATE} API requests a
second per token (error 6), like VK for a community token; a serving `Host`
with one VK bot on Bots Long Poll (its `rate_limit` {RATE}) and a plugin that
answers every message. {USERS:,} users (the one-by-one rows: {SLOW_USERS}) each
write {PER_USER} messages at once; timed from the push to FakeVK recording the
last reply; every reply checked (one per message, to its sender, in each
user's order). A lone reply: `VkApi.messages.send` with the limiter never full,
one at a time, median of {LONE}; it goes out as a plain `messages.send` either way.
Medians of {trials} trials, the two ways alternating in one run (a shared,
busy machine: read the ratios).

| replies | replies sent | replies/s (median) | trials | API requests | lone reply |
| --- | ---: | ---: | --- | ---: | ---: |
{chr(10).join(rows)}

- coalesced ÷ one by one: **{ratio:.1f}×**; target ≥ {TARGET:.0f} replies/s: {mark}
  ({med["coalesced"]:.0f}); VK's ceiling is 20 × 25 = 500 a second.
- a lone reply, coalesced ÷ one by one: {lone_ratio:.2f} (unchanged: the same request).
- requests FakeVK refused with error 6 in the whole run: {figures["refused"]}.

The limiter frees a slot one second after its request's answer, so each
request costs a second plus its round trip. When the hall starts writing, the
first half of the slots go at once to single replies (as a lone reply does);
from then on requests are spaced 1/{RATE} s apart, each carrying the replies that
came meanwhile (up to 25). The first second's single replies are why the
figure stays under the ceiling.
"""


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--no-write", action="store_true", help="print, do not touch docs/")
    args = p.parse_args()
    load_before = load_line()
    figures = anyio.run(main, args.trials)
    body = report(figures, args.trials, load_before)
    if not args.no_write:
        write_section("replies", body)
    print(body)
