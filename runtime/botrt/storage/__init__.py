"""Storage: SQLite by default, PostgreSQL by URL, one async interface for plugins.

The host opens one `Storage` from ``[storage] url`` and gives each plugin its
`PluginStorage` (``storage.for_plugin(name)``) by injection. `Leases`
(``ps.leases(clock)``) let one process at a time do a piece of background work.
"""

from botrt.storage._errors import MigrationError, StorageError
from botrt.storage._lease import Lease, LeaseBusyError, LeaseLostError, Leases
from botrt.storage._migrate import MigrationStep
from botrt.storage._plugin import PluginStorage
from botrt.storage._storage import Storage
from botrt.storage._url import DEFAULT_FILE_NAME, default_url

__all__ = [
    "DEFAULT_FILE_NAME",
    "Lease",
    "LeaseBusyError",
    "LeaseLostError",
    "Leases",
    "MigrationError",
    "MigrationStep",
    "PluginStorage",
    "Storage",
    "StorageError",
    "default_url",
]
