"""A reload leaves nothing of the old version behind: its tables and compiled statements go."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
from sqlalchemy import Table

from botrt.testing import TestHost

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
ATTENDANCE = ROOT / "plugins" / "attendance"

COUNTER = """
from sqlalchemy import Column, Integer, String, select, update

from botrt import PluginPlanner
from botrt.adapter import TextEvent
from botrt.handle import on_command
from botrt.storage import PluginStorage

PLUGIN = PluginPlanner(version="1")


@PLUGIN.on_load
async def prepare(ps: PluginStorage) -> None:
    ps.table("hits", Column("name", String(50), primary_key=True), Column("n", Integer))
    ps.table("notes", Column("id", Integer, primary_key=True), Column("text", String(200)))
    await ps.migrate(1)


@PLUGIN.use
@on_command("hit")
async def hit(event: TextEvent, ps: PluginStorage) -> None:
    hits = ps.tables["hits"]
    await ps.upsert(hits, {"name": "all", "n": 0}, key="name", update=())
    await ps.execute(update(hits).where(hits.c.name == "all").values(n=hits.c.n + 1))
    await event.reply(str(await ps.scalar(select(hits.c.n).where(hits.c.name == "all"))))
"""


def compiled_statements(host: TestHost) -> int:
    # The engine's statement cache (SQLAlchemy's LRU; private): it holds each
    # statement's tables, so it must not keep the entries of old versions.
    cache = host.host.storage.engine.sync_engine._compiled_cache
    return len(cache) if cache is not None else 0


async def reload_many(host: TestHost, name: str, folder: Path, times: int, command: str) -> None:
    """Reload plugin `name` `times` times, running `command` on each version; check what stays."""
    runtime, storage = host.host.runtime, host.host.storage
    old: list[weakref.ref[Table]] = []
    cached: list[int] = []
    for _ in range(times):
        old += [weakref.ref(t) for t in storage.for_plugin(name).tables.values()]
        await runtime.swap(name, runtime.import_plugin(name, folder))
        assert await host.send(command, role="admin"), command
        cached.append(compiled_statements(host))
    gc.collect()
    assert len(old) >= times
    assert [ref() for ref in old if ref() is not None] == []
    # Bounded: what one version compiles, not what every version did.
    assert max(cached) <= cached[0] + 3, (cached[:3], cached[-3:])


async def test_300_reloads_leave_no_old_table_and_no_old_compiled_statement(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "counter"
    folder.mkdir()
    (folder / "__plugin__.py").write_text(COUNTER, encoding="utf-8")
    async with TestHost(plugins=[folder]) as host:
        await reload_many(host, "counter", folder, 300, "/hit")
        # The data stays: each version counted on.
        assert await host.send("/hit") == ["301"]


async def test_attendance_reloads_leave_no_old_table() -> None:
    config = {"plugins": {"settings": {"attendance": {"lessons": ["math"]}}}}
    async with TestHost(plugins=[ATTENDANCE], config=config) as host:
        marked = "Marked absent on 2026-09-01, math: id77 (not in the member list)"
        command = "/absent 77 --lesson math --date 2026-09-01"
        assert await host.send(command, role="admin") == [marked]
        await reload_many(host, "attendance", ATTENDANCE, 30, "/attendance 2026-09")
        (table,) = await host.send("/attendance 2026-09", role="admin")
        assert table.startswith("Absences 2026-09-01..2026-09-30: 1 in total")
