"""The validated, immutable form of ``bot.toml``: one frozen dataclass per section.

Defaults live in the loader, not here, so there is one place that says what an
absent key means; build a config with `load_config` or `default_config`.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

_HIDDEN = "***"
_URL_PASSWORD = re.compile(r"(?<=://)([^/@:]*):[^/@]*@")


def _mask_url(url: str) -> str:
    # Database URLs may carry a password (`postgresql://user:pw@host/db`).
    return _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{_HIDDEN}@", url)


def _repr_with(obj: object, masked: dict[str, str]) -> str:
    parts = []
    for field in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, field.name)
        shown = masked.get(field.name, repr(value)) if value is not None else "None"
        parts.append(f"{field.name}={shown}")
    return f"{type(obj).__name__}({', '.join(parts)})"


@dataclass(frozen=True, slots=True)
class FloodLimit:
    """``[bot] flood``: at most `messages` messages per user within `seconds` seconds."""

    messages: int
    seconds: float


@dataclass(frozen=True, slots=True)
class BotSection:
    """``[bot]``: the bot's name, command prefixes, global admins, time zone and language,
    and what the runtime itself says to users.

    `language` is ``"en"`` or ``"ru"``: the language the built-in plugins and
    the runtime's own texts speak (see `botrt.i18n`). `error_reply` is sent to
    a user whose message a flow failed on, `unknown_command_reply` to a user who
    sent an unknown command in a private chat: None means the runtime's own
    text in `language`, ``""`` sends nothing. `flood` limits the messages of
    one user (None: no limit).
    """

    name: str
    prefixes: tuple[str, ...]
    admins: tuple[int, ...]
    timezone: str
    language: str = "en"
    error_reply: str | None = None
    unknown_command_reply: str | None = None
    flood: FloodLimit | None = None

    @property
    def tzinfo(self) -> datetime.tzinfo:
        """The `timezone` as a tzinfo object.

        :raises zoneinfo.ZoneInfoNotFoundError: if the zone database went away after loading.
        """
        if self.timezone == "UTC":
            # Works even where the system has no zone database installed.
            return datetime.UTC
        return zoneinfo.ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class PluginsSection:
    """``[plugins]``: where plugins are found, which are on, and their own settings.

    `dirs` are absolute. `settings` maps a plugin name to its ``[plugins.settings.<name>]``
    table as a plain dict, unvalidated; treat it as read-only.
    """

    dirs: tuple[Path, ...]
    enabled: tuple[str, ...]
    disabled: tuple[str, ...]
    reload: bool
    builtin: bool
    settings: dict[str, dict[str, Any]]

    def settings_for(self, name: str) -> dict[str, Any]:
        """The settings table of plugin `name`, or an empty dict when it has none."""
        return self.settings.get(name, {})


@dataclass(frozen=True, slots=True)
class StorageSection:
    """``[storage]``: the database.

    `url` is the URL as written (after ``${VAR}`` expansion); `resolved_url` is the
    one to connect to, with a relative SQLite path made absolute against the
    folder of ``bot.toml``. `database` is that SQLite file, or None for an
    in-memory SQLite database or PostgreSQL. ``repr()`` hides URL passwords.
    """

    url: str
    resolved_url: str
    dialect: Literal["sqlite", "postgresql"]
    database: Path | None

    def __repr__(self) -> str:
        return _repr_with(
            self,
            {"url": repr(_mask_url(self.url)), "resolved_url": repr(_mask_url(self.resolved_url))},
        )


@dataclass(frozen=True, slots=True)
class ConsoleSection:
    """``[console]``: the stdin/stdout adapter and who the console user is.

    `enabled` is True, False or ``"auto"``; see `BotConfig.console_active`.
    """

    enabled: bool | Literal["auto"]
    user_id: int
    role: Literal["admin", "member"]


@dataclass(frozen=True, slots=True)
class ServerSection:
    """``[server]``: the HTTP server for Callback API webhooks, /healthz and /metrics.

    `enabled` is True, False or ``"auto"``; see `BotConfig.server_active`.
    """

    enabled: bool | Literal["auto"]
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class ConversationsSection:
    """``[conversations]``: how long an `ask` waits, the words that end a
    conversation, and how long a durable state lives without a message.

    `timeout` and `state_ttl` are seconds; `cancel` words are compared with
    the whole message text, ignoring case and surrounding spaces.
    """

    timeout: float = 300
    cancel: tuple[str, ...] = ("/cancel",)
    state_ttl: float = 86400


@dataclass(frozen=True, slots=True)
class ClusterSection:
    """``[cluster]``: whether this process is one worker of several on one PostgreSQL.

    `worker_id` names this worker in leases and logs: as written, or (when
    written empty or left out) the host name and the process id, filled in by
    the loader. `failover` is the number of seconds within which another worker
    takes over the work of one that died.
    """

    enabled: bool = False
    worker_id: str = ""
    failover: float = 5


@dataclass(frozen=True, slots=True)
class VkBotConfig:
    """One ``[[bots]]`` entry: a VK community bot account.

    `path`, `secret` and `confirmation` are set for the ``"callback"`` transport
    (and may be set, unused, for ``"longpoll"``). ``repr()`` shows ``'***'`` in
    place of the token, secret and confirmation, so configs can be logged.
    """

    name: str
    platform: Literal["vk"]
    token: str
    group_id: int
    transport: Literal["longpoll", "callback"]
    api_url: str
    api_version: str
    rate_limit: float
    path: str | None
    secret: str | None
    confirmation: str | None

    def __repr__(self) -> str:
        hidden = repr(_HIDDEN)
        return _repr_with(self, {"token": hidden, "secret": hidden, "confirmation": hidden})


@dataclass(frozen=True, slots=True)
class BotConfig:
    """A whole, validated ``bot.toml``.

    `path` is the file it was read from (None when built from a mapping with no
    file); `base_dir` is the folder relative paths were resolved against.
    """

    path: Path | None
    base_dir: Path
    bot: BotSection
    plugins: PluginsSection
    storage: StorageSection
    console: ConsoleSection
    server: ServerSection
    bots: tuple[VkBotConfig, ...]
    conversations: ConversationsSection = ConversationsSection()
    cluster: ClusterSection = ClusterSection()

    @property
    def server_active(self) -> bool:
        """Whether the HTTP server runs: ``enabled = "auto"`` means "when there are [[bots]]".

        A console-only bot opens no port unless asked to.
        """
        if self.server.enabled == "auto":
            return bool(self.bots)
        return bool(self.server.enabled)

    @property
    def console_active(self) -> bool:
        """Whether the console adapter runs: ``enabled = "auto"`` means "when no [[bots]]"."""
        if self.console.enabled == "auto":
            return not self.bots
        return bool(self.console.enabled)
