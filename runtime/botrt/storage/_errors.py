"""The errors storage raises on purpose."""

from __future__ import annotations

from botrt._errors import BotrtError


class StorageError(BotrtError):
    """Raised when storage cannot do what was asked: a bad ``[storage] url``, a database
    that cannot be reached or opened, a misuse of the API (a bad table name, a nested
    write transaction, a closed storage).

    The message says what to change. It never contains a database password.
    """


class MigrationError(StorageError):
    """Raised when a plugin's schema cannot be brought to the version it declares.

    Nothing was changed: the plugin's tables and recorded version are as they were
    before the call.
    """
