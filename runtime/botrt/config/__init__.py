"""``bot.toml``: loading, validation, ``${VAR}`` expansion and plugin enable/disable edits.

``load_config("bot.toml")`` gives a frozen `BotConfig` or raises `ConfigError`
listing every problem of the file, one per line, each with its key path.
"""

from __future__ import annotations

from botrt.config._compare import LIVE_KEYS, is_plugin_enabled, restart_needed
from botrt.config._diagnose import Diagnosis, diagnose_settings, diagnose_setup
from botrt.config._edit import set_plugin_enabled
from botrt.config._errors import ConfigError, ConfigIssue
from botrt.config._load import default_config, load_config, parse_config
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
    VkBotConfig,
)
from botrt.config._plugin_settings import SettingsSchemaError

__all__ = [
    "LIVE_KEYS",
    "BotConfig",
    "BotSection",
    "ClusterSection",
    "ConfigError",
    "ConfigIssue",
    "ConsoleSection",
    "ConversationsSection",
    "Diagnosis",
    "FloodLimit",
    "PluginsSection",
    "ServerSection",
    "SettingsSchemaError",
    "StorageSection",
    "VkBotConfig",
    "default_config",
    "diagnose_settings",
    "diagnose_setup",
    "is_plugin_enabled",
    "load_config",
    "parse_config",
    "restart_needed",
    "set_plugin_enabled",
]
