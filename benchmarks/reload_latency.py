"""Reload latency: from a plugin file save to the new version answering; and reload memory.

Run: ``.venv/bin/python benchmarks/reload_latency.py`` (writes docs/benchmarks.md).

A real host with the real watcher (watchfiles) over a real plugin folder. For
each of 30 saves, the clock starts just before the file is written and stops
when a ``/ver`` event sent through the host is answered by the new version.
The pause between saves is drawn at random (`GAP`), so saves do not fall at
the same point of the watcher's polling tick every time (a fixed pause locks
onto it and makes every save cost the same).
Then 1,000 reloads (driven directly, no watcher) measure resident memory growth.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine_line, write_section

from botrt.config import load_config
from botrt.host import Host
from botrt.host._reload import Reloader
from botrt.testing import MemoryEvent

SOURCE = """
from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command

PLUGIN = PluginPlanner(version="{v}")


@PLUGIN.use
@on_command("ver")
async def ver(event: TextEvent) -> None:
    await event.reply("{v}")
"""

SAVES = 30
RELOADS = 1000
GAP = (0.15, 0.45)
"""Seconds between one save's answer and the next save, drawn uniformly."""


def rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    import resource

    return pages * resource.getpagesize() / 2**20


async def ask(host: Host) -> str:
    event = MemoryEvent("/ver")
    await host.handle(event)
    return event.replies[0] if event.replies else ""


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plugin = root / "plugins" / "ver" / "__plugin__.py"
        plugin.parent.mkdir(parents=True)
        plugin.write_text(SOURCE.format(v=0), encoding="utf-8")
        (root / "bot.toml").write_text(
            '[plugins]\ndirs = ["plugins"]\nbuiltin = false\n[console]\nenabled = false\n'
            '[storage]\nurl = "sqlite:///:memory:"\n',
            encoding="utf-8",
        )
        host = Host(load_config(root / "bot.toml"), entry_points=False)
        await host.start()
        reloader = Reloader(host)
        latencies: list[float] = []
        gaps = random.Random()
        async with anyio.create_task_group() as tg:
            tg.start_soon(reloader.run)
            await anyio.sleep(0.5)  # let the watcher arm before the first timed save
            for v in range(1, SAVES + 1):
                started = time.perf_counter()
                plugin.write_text(SOURCE.format(v=v), encoding="utf-8")
                with anyio.fail_after(10):
                    while await ask(host) != str(v):  # noqa: ASYNC110 (polling is the measurement)
                        await anyio.sleep(0.001)
                latencies.append((time.perf_counter() - started) * 1e3)
                # Separate the saves (each is its own edit), at a random phase of the tick.
                await anyio.sleep(gaps.uniform(*GAP))
            tg.cancel_scope.cancel()

        folder = plugin.parent
        for v in range(50):  # warm-up: caches and allocator pools settle
            plugin.write_text(SOURCE.format(v=f"w{v}"), encoding="utf-8")
            await reloader.reload("ver", folder)
        before_rss, before_modules = rss_mb(), len(sys.modules)
        for v in range(RELOADS):
            plugin.write_text(SOURCE.format(v=f"m{v}"), encoding="utf-8")
            await reloader.reload("ver", folder)
        growth = rss_mb() - before_rss
        module_growth = len(sys.modules) - before_modules
        await host.stop()

    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    body = f"""## Reload latency

Command: `.venv/bin/python benchmarks/reload_latency.py`
Machine: {machine_line()}

| measure | botrt | target |
| --- | --- | --- |
| save → new version answering, p50 over {SAVES} saves | {p50:.0f} ms | ≤ 150 ms |
| save → new version answering, p95 | {p95:.0f} ms | ≤ 300 ms |
| RSS growth over {RELOADS} reloads | {growth:+.1f} MB | ≤ 5 MB |
| `sys.modules` growth over {RELOADS} reloads | {module_growth:+d} | 0 |

Saves are {GAP[0]:.2f}–{GAP[1]:.2f} s apart, drawn at random, so they land at
any point of the watcher's tick. The watcher groups a save's file events
until 50 ms pass with no new one (watchfiles `step=50`), so about 50 ms of
each figure is that wait.
melobot has no per-plugin reload to compare with: its `mb dev` restarts the
whole process (PEERS.md: a new process about 0.6 s after the edit, state lost).
"""
    write_section("reload", body)
    print(body)


if __name__ == "__main__":
    anyio.run(main)
