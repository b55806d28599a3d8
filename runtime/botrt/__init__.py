"""botrt: a plugin-host chat-bot runtime with flows as DAGs and hot reload.

Besides `PluginPlanner` and `__version__`, ``botrt`` exports every error it
raises on purpose, rooted at `BotrtError` (the tree is drawn in the docstring
of ``botrt._errors``); each is also exported by the package that raises it.
"""

from __future__ import annotations

import importlib
from typing import Any

# Each name and the module that defines it: imported when first asked for, so
# `import botrt` does no work and pulls in nothing it does not need.
_LAZY = {
    "PluginPlanner": "botrt.plugin",
    "BotrtError": "botrt._errors",
    "BackoffConfigError": "botrt._backoff",
    "ConfigError": "botrt.config",
    "SettingsSchemaError": "botrt.config",
    "PluginLoadError": "botrt.plugin",
    "PluginNotLoadedError": "botrt.plugin",
    "LifecycleError": "botrt.plugin",
    "BackgroundError": "botrt.plugin",
    "MemberLookupError": "botrt.plugin",
    "UnknownBotError": "botrt.plugin",
    "MetricError": "botrt.plugin",
    "FlowCycleError": "botrt.handle",
    "FlowContextError": "botrt.handle",
    "InjectionError": "botrt.handle",
    "ScheduleError": "botrt.handle",
    "ConversationEnded": "botrt.handle",
    "ConversationTimeout": "botrt.handle",
    "ConversationCancelled": "botrt.handle",
    "ConversationDataError": "botrt.handle",
    "ReplyNotSupportedError": "botrt.adapter",
    "KeyboardError": "botrt.adapter",
    "CatalogError": "botrt.i18n",
    "StorageError": "botrt.storage",
    "MigrationError": "botrt.storage",
    "LeaseBusyError": "botrt.storage",
    "LeaseLostError": "botrt.storage",
    "VkError": "botrt.protocols.vk",
    "VkConfigError": "botrt.protocols.vk",
    "VkPayloadError": "botrt.protocols.vk",
    "VkTransportError": "botrt.protocols.vk",
    "VkApiError": "botrt.protocols.vk",
    "TestHostError": "botrt.testing",
    "FakeVKError": "botrt.testing",
    "PostgresError": "botrt.testing",
    "PostgresNotInstalled": "botrt.testing",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("botrt")
        except PackageNotFoundError:  # running from a source tree that is not installed
            return "0+unknown"
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'botrt' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
