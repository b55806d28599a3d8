"""The ``[[bots]]`` part of the ``bot.toml`` schema: one table per bot account."""

from __future__ import annotations

from typing import Any

from botrt.config import _check as c
from botrt.config._check import Table
from botrt.config._errors import ConfigIssue
from botrt.config._keys import join_index, join_key
from botrt.config._model import VkBotConfig

DEFAULT_API_URL = "https://api.vk.com/method"
DEFAULT_API_VERSION = "5.199"
DEFAULT_RATE_LIMIT = 20
_CALLBACK_ONLY = ' (required when transport is "callback")'


def build_bots(root: Table, issues: list[ConfigIssue]) -> tuple[VkBotConfig, ...]:
    """The ``[[bots]]`` array of `root`: each bot's table checked, names and paths unique."""
    entries = root.raw("bots")
    if entries is None:
        return ()
    if not isinstance(entries, list):
        hint = " (write [[bots]] above each bot's table)" if isinstance(entries, dict) else ""
        root.report("bots", f"expected an array of tables, got {c.describe(entries)}{hint}")
        return ()
    bots: list[VkBotConfig] = []
    names: dict[str, str] = {}
    paths: dict[str, str] = {}
    for i, entry in enumerate(entries):
        where = join_index("bots", i)
        if not isinstance(entry, dict):
            root.report(where, f"expected a table, got {c.describe(entry)}")
            continue
        bot = _bot_entry(Table(entry, where, issues, root.failed))
        route = bot.path if bot.transport == "callback" else None  # unused paths can't clash
        for value, seen, key in ((bot.name, names, "name"), (route, paths, "path")):
            if value is None:
                continue
            if value in seen:
                root.report(join_key(where, key), f'"{value}" is already used by {seen[value]}')
            else:
                seen[value] = where
        bots.append(bot)
    return tuple(bots)


def _bot_entry(t: Table) -> VkBotConfig:
    secret = c.string(nonempty=True, hide=True)
    name = t.get("name", c.string(nonempty=True))
    platform = t.get("platform", c.choice("vk"))
    token = t.get("token", secret)
    group_id = t.get("group_id", c.integer(1, wording="a positive integer"))
    transport = t.get("transport", c.choice("longpoll", "callback"), "longpoll")
    # Callback-only keys are accepted with long poll too, so switching transport back
    # and forth is a one-line edit; they are required only where they are used.
    needed = c.MISSING if transport == "callback" else None
    path = t.get("path", _route, needed, note=_CALLBACK_ONLY)
    bot = VkBotConfig(
        name=name,
        platform=platform,
        token=token,
        group_id=group_id,
        transport=transport,
        api_url=t.get("api_url", _http_url, DEFAULT_API_URL),
        api_version=t.get("api_version", c.string(nonempty=True), DEFAULT_API_VERSION),
        rate_limit=t.get("rate_limit", c.positive_number, DEFAULT_RATE_LIMIT),
        path=path,
        secret=t.get("secret", secret, needed, note=_CALLBACK_ONLY),
        confirmation=t.get("confirmation", secret, needed, note=_CALLBACK_ONLY),
    )
    t.finish()
    return bot


def _route(value: Any, path: str, report: c.Report) -> Any:
    route = c.string()(value, path, report)
    if route is not c.INVALID and not route.startswith("/"):
        report(path, f'must start with "/", got {c.render(route)}')
        return c.INVALID
    return route


def _http_url(value: Any, path: str, report: c.Report) -> Any:
    url = c.string()(value, path, report)
    if url is not c.INVALID and not url.startswith(("http://", "https://")):
        report(path, f"expected an http:// or https:// URL, got {c.render(url)}")
        return c.INVALID
    return url
