"""Plugins: the planner, loading folders into their own namespaces, validation."""

from botrt._backoff import Backoff
from botrt.i18n import Translator
from botrt.plugin._background import Background, BackgroundError
from botrt.plugin._botinfo import BotInfo
from botrt.plugin._catalog import CommandCatalog, CommandInfo, PluginSettings
from botrt.plugin._clock import Clock
from botrt.plugin._imports import PluginNotLoadedError
from botrt.plugin._loader import LoadedPlugin, PluginIssue, PluginLoadError, load_plugin
from botrt.plugin._members import Member, MemberLookupError, Members
from botrt.plugin._messenger import Messenger, UnknownBotError
from botrt.plugin._metrics import MetricError, Metrics
from botrt.plugin._planner import LifecycleError, PluginPlanner
from botrt.plugin._roles import Roles

__all__ = [
    "Background",
    "BackgroundError",
    "Backoff",
    "BotInfo",
    "Clock",
    "CommandCatalog",
    "CommandInfo",
    "LifecycleError",
    "LoadedPlugin",
    "Member",
    "MemberLookupError",
    "Members",
    "Messenger",
    "MetricError",
    "Metrics",
    "PluginIssue",
    "PluginLoadError",
    "PluginNotLoadedError",
    "PluginPlanner",
    "PluginSettings",
    "Roles",
    "Translator",
    "UnknownBotError",
    "load_plugin",
]
