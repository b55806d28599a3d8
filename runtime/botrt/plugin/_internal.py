"""What `botrt.plugin` lends its sibling packages (the host, the command line).

Not public API: plugins never import it. A sibling needing more of this
package adds the name here instead of importing a private module of it.
"""

from botrt.plugin._background import BackgroundTasks
from botrt.plugin._catalog import (
    builtin_plugins_dir,
    commands_of,
    discover,
    find_clashes,
    find_uninjectable,
)
from botrt.plugin._clock import SystemClock
from botrt.plugin._imports import PluginImporter
from botrt.plugin._loader import unload_modules
from botrt.plugin._metrics import PluginMetricsHub

__all__ = [
    "BackgroundTasks",
    "PluginImporter",
    "PluginMetricsHub",
    "SystemClock",
    "builtin_plugins_dir",
    "commands_of",
    "discover",
    "find_clashes",
    "find_uninjectable",
    "unload_modules",
]
