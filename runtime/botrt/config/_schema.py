"""The ``bot.toml`` schema: defaults, types and cross-checks, from parsed data to `BotConfig`.

The sections are checked here; the ``[[bots]]`` array, one table per bot
account, in `_bots`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from botrt.config import _check as c
from botrt.config._bots import build_bots
from botrt.config._check import Table
from botrt.config._errors import ConfigIssue
from botrt.config._fs import absolute_path
from botrt.config._model import (
    BotConfig,
    BotSection,
    ClusterSection,
    ConsoleSection,
    ConversationsSection,
    FloodLimit,
    PluginsSection,
    ServerSection,
    StorageSection,
)
from botrt.config._storage import resolve_url
from botrt.config._timezone import is_zone_name, local_zone_name

# The defaults SPEC §3 shows; the time zone's default is the machine's and so is computed.
DEFAULT_NAME = "botrt"
DEFAULT_PREFIXES = ("/", ".")
DEFAULT_DIRS = ("plugins",)
DEFAULT_ENABLED = ("*",)
DEFAULT_STORAGE_URL = "sqlite:///botrt.db"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
LANGUAGES = ("en", "ru")
"""The values ``[bot] language`` takes: the languages botrt's own texts are translated into."""
DEFAULT_LANGUAGE = "en"


def build_config(
    data: Mapping[str, Any],
    *,
    base_dir: Path,
    path: Path | None,
    environ: Mapping[str, str],
    issues: list[ConfigIssue],
    failed: set[str],
) -> BotConfig:
    """Validate expanded TOML `data` into a `BotConfig`, appending every problem to `issues`.

    The result is only meaningful when no issue was added; callers raise otherwise.
    `failed` holds key paths whose ``${VAR}`` expansion already failed.
    """
    root = Table(data, "", issues, failed)
    storage = _storage(root.table("storage"), base_dir)
    config = BotConfig(
        path=path,
        base_dir=base_dir,
        bot=_bot(root.table("bot"), environ),
        plugins=_plugins(root.table("plugins"), base_dir),
        storage=storage,
        console=_console(root.table("console")),
        server=_server(root.table("server")),
        bots=build_bots(root, issues),
        conversations=_conversations(root.table("conversations")),
        cluster=_cluster(root.table("cluster"), storage),
    )
    root.finish()
    return config


def _bot(t: Table, environ: Mapping[str, str]) -> BotSection:
    name = t.get("name", c.string(nonempty=True), DEFAULT_NAME)
    prefixes = t.get(
        "prefixes",
        c.array(c.string(nonempty=True), "strings", empty="must list at least one prefix"),
        DEFAULT_PREFIXES,
    )
    admins = t.get("admins", c.array(c.integer(), "integers"), ())
    timezone = t.get("timezone", _zone, None)
    language = t.get("language", c.choice(*LANGUAGES), DEFAULT_LANGUAGE)
    error_reply = t.get("error_reply", c.string(), None)
    unknown_command_reply = t.get("unknown_command_reply", c.string(), None)
    flood = _flood(t.table("flood")) if "flood" in t.data else None
    t.finish()
    return BotSection(
        name=name,
        prefixes=prefixes,
        admins=admins,
        timezone=timezone if timezone is not None else local_zone_name(environ),
        language=language,
        error_reply=error_reply,
        unknown_command_reply=unknown_command_reply,
        flood=flood,
    )


def _flood(t: Table) -> FloodLimit | None:
    messages = t.get("messages", c.integer(1, wording="a positive integer"))
    seconds = t.get("seconds", c.positive_number)
    t.finish()
    if messages is None or seconds is None:
        return None
    return FloodLimit(messages=messages, seconds=seconds)


def _zone(value: Any, path: str, report: c.Report) -> Any:
    name = c.string(nonempty=True)(value, path, report)
    if name is c.INVALID:
        return c.INVALID
    if not is_zone_name(name):
        report(path, f'unknown time zone "{name}" (expected an IANA name such as "Europe/Moscow")')
        return c.INVALID
    return name


def _plugins(t: Table, base_dir: Path) -> PluginsSection:
    names = c.array(c.string(nonempty=True), "plugin names")
    dirs = t.get("dirs", c.array(c.string(nonempty=True), "folder paths"), DEFAULT_DIRS)
    section = PluginsSection(
        dirs=tuple(absolute_path(d, base_dir) for d in dirs),
        enabled=t.get("enabled", names, DEFAULT_ENABLED),
        disabled=t.get("disabled", names, ()),
        reload=t.get("reload", c.boolean, True),
        builtin=t.get("builtin", c.boolean, True),
        settings=_settings(t.table("settings")),
    )
    t.finish()
    return section


def _settings(t: Table) -> dict[str, dict[str, Any]]:
    settings: dict[str, dict[str, Any]] = {}
    for plugin in t.data:  # any plugin name is a valid key: the table has no fixed schema
        settings[plugin] = dict(t.table(plugin).data)
    return settings


def _storage(t: Table, base_dir: Path) -> StorageSection:
    url = t.get("url", c.string(nonempty=True), DEFAULT_STORAGE_URL)
    resolved = resolve_url(url, base_dir)
    if isinstance(resolved, str):
        t.report(t.key("url"), resolved)
        resolved = resolve_url(DEFAULT_STORAGE_URL, base_dir)
        assert not isinstance(resolved, str)
    t.finish()
    return StorageSection(
        url=url, resolved_url=resolved.url, dialect=resolved.dialect, database=resolved.database
    )


def _console(t: Table) -> ConsoleSection:
    section = ConsoleSection(
        enabled=t.get("enabled", c.choice(True, False, "auto"), "auto"),
        user_id=t.get("user_id", c.integer(), 1),
        role=t.get("role", c.choice("admin", "member"), "admin"),
    )
    t.finish()
    return section


def _server(t: Table) -> ServerSection:
    section = ServerSection(
        enabled=t.get("enabled", c.choice(True, False, "auto"), "auto"),
        host=t.get("host", c.string(nonempty=True), DEFAULT_HOST),
        port=t.get("port", c.integer(0, 65535, wording="an integer from 0 to 65535"), DEFAULT_PORT),
    )
    t.finish()
    return section


def _conversations(t: Table) -> ConversationsSection:
    default = ConversationsSection()
    section = ConversationsSection(
        timeout=t.get("timeout", c.positive_number, default.timeout),
        cancel=t.get("cancel", c.array(c.string(nonempty=True), "strings"), default.cancel),
        state_ttl=t.get("state_ttl", c.positive_number, default.state_ttl),
    )
    t.finish()
    return section


def _cluster(t: Table, storage: StorageSection) -> ClusterSection:
    default = ClusterSection()
    enabled = t.get("enabled", c.boolean, default.enabled)
    worker_id = t.get("worker_id", _worker_id, default.worker_id)
    failover = t.get("failover", _failover, default.failover)
    t.finish()
    if enabled and storage.dialect != "postgresql":
        # The workers coordinate through the database: a SQLite file is one machine's.
        t.report(
            t.key("enabled"),
            f"a cluster needs PostgreSQL, but storage.url is {c.render(storage.url)}; "
            'set storage.url to a "postgresql://..." URL, or cluster.enabled = false',
        )
    return ClusterSection(
        enabled=enabled, worker_id=worker_id or default_worker_id(), failover=failover
    )


def default_worker_id() -> str:
    """``[cluster] worker_id`` when none is written: ``<host name>:<process id>``.

    Raises nothing.
    """
    return f"{socket.gethostname()}:{os.getpid()}"


# Leases and logs carry the worker id; the lease tables keep 200 characters.
_MAX_WORKER_ID = 200


def _worker_id(value: Any, path: str, report: c.Report) -> Any:
    name = c.string()(value, path, report)
    if name is c.INVALID:
        return c.INVALID
    if len(name) > _MAX_WORKER_ID or not name.isprintable() or name != name.strip():
        report(
            path,
            f"expected at most {_MAX_WORKER_ID} printable characters without surrounding "
            f"spaces, got {c.render(name)}",
        )
        return c.INVALID
    return name


# Below a second, a worker's lease would expire on an ordinary pause of the network or
# the database, and leadership would change hands for nothing.
_MIN_FAILOVER = 1


def _failover(value: Any, path: str, report: c.Report) -> Any:
    seconds = c.positive_number(value, path, report)
    if seconds is not c.INVALID and seconds < _MIN_FAILOVER:
        report(path, f"expected at least {_MIN_FAILOVER} second, got {c.render(seconds)}")
        return c.INVALID
    return seconds
