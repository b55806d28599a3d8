"""Start-up footprint: what a console bot imports, checked in fresh interpreters.

A console-only bot must not pay for what it does not use: the VK client
(aiohttp), the PostgreSQL dialect, and, for commands other than `serve`, the
host and SQLAlchemy. Each check runs in its own interpreter, since the test
process has imported everything long ago.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

BOTRT = str(Path(sys.executable).parent / "botrt")


def modules_after(code: str) -> set[str]:
    """The names in ``sys.modules`` after running `code` in a fresh interpreter."""
    script = textwrap.dedent(code) + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def loaded(modules: set[str], *names: str) -> list[str]:
    return [n for n in names if n in modules]


def test_the_command_line_imports_no_engine() -> None:
    # `botrt --help`, `init`, `check` parse their arguments before any of this is needed.
    modules = modules_after("import botrt.cli\nbotrt.cli._main._parser()")
    assert not loaded(
        modules,
        "aiohttp",
        "prometheus_client",
        "sqlalchemy",
        "watchfiles",
        "botrt.host",
        "botrt.storage",
        "botrt.plugin",
    )


def test_vk_types_come_without_the_http_client() -> None:
    # What the built-in plugins import to tell VK events apart and to send documents.
    modules = modules_after(
        "from botrt.protocols.vk import MessageNew, VkApi, VkError, upload_document"
    )
    assert not loaded(modules, "aiohttp", "prometheus_client", "botrt.protocols.vk._callback")


def test_the_callback_api_names_still_resolve() -> None:
    modules = modules_after(
        """
        import botrt.protocols.vk as vk
        from botrt.protocols.vk import CallbackBot, HealthCheck, create_callback_app
        from botrt.protocols.vk import _callback
        assert create_callback_app is _callback.create_callback_app
        assert CallbackBot is _callback.CallbackBot and HealthCheck is _callback.HealthCheck
        assert all(hasattr(vk, name) for name in vk.__all__)
        """
    )
    assert "aiohttp.web" in modules


def test_loading_the_entry_points_imports_no_platform_client() -> None:
    # Every host loads the `vk` entry point, whether or not a VK bot is configured.
    modules = modules_after("from botrt.hooks import make_plugin_manager\nmake_plugin_manager()")
    assert "botrt.protocols.vk._hooks" in modules
    assert not loaded(
        modules,
        "aiohttp",
        "prometheus_client",
        "botrt.protocols.vk._adapters",
        "botrt.protocols.vk._callback",
        "botrt.protocols.vk._metrics",
    )


def test_sqlite_storage_does_not_load_the_postgresql_dialect() -> None:
    modules = modules_after(
        """
        import anyio
        from sqlalchemy import Column, Integer, String
        from botrt.storage import Storage

        async def main():
            async with await Storage.open("sqlite:///:memory:") as storage:
                ps = storage.for_plugin("p")
                t = ps.table("t", Column("id", Integer, primary_key=True), Column("v", String))
                await ps.migrate(1)
                await ps.upsert(t, {"id": 1, "v": "a"}, key="id")
                await ps.kv_set("k", 1)

        anyio.run(main)
        """
    )
    assert "sqlalchemy.dialects.sqlite" in modules
    assert not loaded(modules, "sqlalchemy.dialects.postgresql", "asyncpg")


def test_a_console_host_with_the_builtin_plugins_loads_no_vk_client(tmp_path: Path) -> None:
    # The built-in plugins name VK types (attendance sends documents on VK); a
    # console bot still never loads aiohttp, VK's adapters or the metrics library.
    (tmp_path / "bot.toml").write_text("[plugins]\ndirs = []\nbuiltin = true\n", encoding="utf-8")
    modules = modules_after(
        f"""
        import io
        import anyio
        from botrt.config import load_config
        from botrt.host import Host

        async def main():
            config = load_config({str(tmp_path / "bot.toml")!r})
            async with Host(config, stdin=io.StringIO(""), stdout=io.StringIO()) as host:
                assert sorted(host.runtime.plugins) == ["attendance", "broadcast", "help"]
                assert [a.name for a in host.adapters] == ["console"]

        anyio.run(main)
        """
    )
    assert not loaded(
        modules,
        "aiohttp",
        "prometheus_client",
        "botrt.protocols.vk._adapters",
        "botrt.protocols.vk._metrics",
        "sqlalchemy.dialects.postgresql",
    )


def test_serve_collects_garbage_again_once_started(tmp_path: Path) -> None:
    # `botrt serve` pauses the cyclic collector while it starts; it must be back on
    # by the time events are handled.
    plugin = tmp_path / "plugins" / "gcprobe"
    plugin.mkdir(parents=True)
    (plugin / "__plugin__.py").write_text(
        textwrap.dedent(
            """
            import gc

            from botrt import PluginPlanner
            from botrt.adapter import TextEvent
            from botrt.handle import on_command

            PLUGIN = PluginPlanner(version="1.0.0")


            @PLUGIN.use
            @on_command("gc")
            async def probe(event: TextEvent) -> None:
                await event.reply(f"enabled={gc.isenabled()} frozen={gc.get_freeze_count()}")
            """
        ),
        encoding="utf-8",
    )
    (tmp_path / "bot.toml").write_text(
        '[plugins]\ndirs = ["plugins"]\nbuiltin = false\n', encoding="utf-8"
    )
    out = subprocess.run(
        [BOTRT, "serve", "--no-reload", "--config", str(tmp_path / "bot.toml")],
        input="/gc\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # Nothing stays frozen: objects of unloaded (reloaded) plugins must stay collectable.
    assert out.stdout.strip() == "enabled=True frozen=0"
