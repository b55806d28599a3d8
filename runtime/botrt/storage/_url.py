"""Reading ``[storage] url``: which backend, which async driver, and how to name it safely."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from botrt.storage._errors import StorageError

DEFAULT_FILE_NAME = "botrt.db"
"""The SQLite file a bot uses when ``[storage] url`` is not set (beside ``bot.toml``)."""

_EXPECTED = (
    "expected sqlite:///botrt.db (relative to bot.toml), sqlite:////absolute/path.db, "
    "sqlite:///:memory: or postgresql://user:password@host:port/database"
)
_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
_PASSWORD_IN_TEXT = re.compile(r"(?P<head>://[^:/@\s]*:)(?P<password>[^@\s]*)@")


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed storage URL, mapped to its async driver.

    Attributes:
        url: the SQLAlchemy URL to create the engine with (password included).
        backend: ``"sqlite"`` or ``"postgresql"``.
        path: the SQLite file, or None for PostgreSQL and for ``:memory:``.
    """

    url: URL
    backend: str
    path: Path | None

    @property
    def memory(self) -> bool:
        """Whether this is a SQLite ``:memory:`` database. Raises nothing."""
        return self.backend == "sqlite" and self.path is None

    def safe(self) -> str:
        """The URL with its password masked, for logs and messages. Raises nothing."""
        return self.url.render_as_string(hide_password=True)

    def describe(self) -> str:
        """Where the data lives, in words, without the password. Raises nothing."""
        if self.backend == "sqlite":
            return "SQLite in memory" if self.path is None else f"SQLite database {self.path}"
        host = self.url.host or "localhost"
        port = self.url.port or 5432
        return (
            f"PostgreSQL at {host}:{port} (database {self.url.database or '(default)'!r}, "
            f"user {self.url.username or '(default)'!r})"
        )

    def scrub(self, text: str) -> str:
        """`text` with this URL's password, if any, replaced by ``***``. Raises nothing."""
        password = self.url.password
        if password:
            text = text.replace(str(password), "***")
        return text


def default_url(config_dir: Path) -> str:
    """The storage URL a bot uses by default: a SQLite file beside its ``bot.toml``.

    Raises nothing.
    """
    return f"sqlite:///{(Path(config_dir) / DEFAULT_FILE_NAME).resolve()}"


def parse(url: str, *, base_dir: Path | None = None) -> Target:
    """Read a storage URL; a relative SQLite path is taken relative to `base_dir` (else cwd).

    :raises StorageError: if the URL cannot be parsed, names a backend or driver botrt
        does not use, or points at a SQLite file in a folder that does not exist.
    """
    if not isinstance(url, str) or not url.strip():
        raise StorageError(f"storage URL is empty or not a string ({url!r}); {_EXPECTED}")
    try:
        parsed = make_url(url.strip())
    except (ArgumentError, ValueError) as exc:
        raise StorageError(
            f"invalid storage URL {_mask(url)!r} ({_mask(str(exc))}); {_EXPECTED}"
        ) from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        backend = parsed.drivername.partition("+")[0]
        if backend in ("sqlite", "postgresql", "postgres"):
            reason = (
                f"driver {parsed.drivername!r} is not supported: botrt is async and uses "
                "aiosqlite for SQLite and asyncpg for PostgreSQL (write sqlite:// or postgresql://)"
            )
        else:
            reason = (
                f"backend {backend!r} is not supported: botrt stores data in SQLite or PostgreSQL"
            )
        raise StorageError(f"storage URL {_mask(url)!r}: {reason}; {_EXPECTED}")
    parsed = parsed.set(drivername=driver)
    if driver.startswith("postgresql"):
        return Target(parsed, "postgresql", None)
    database = parsed.database
    if not database or database == ":memory:":
        return Target(parsed.set(database=":memory:"), "sqlite", None)
    path = Path(database).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    path = path.resolve()
    if not path.parent.is_dir():
        raise StorageError(
            f"storage URL {_mask(url)!r}: folder {path.parent} does not exist; create it, "
            "or point [storage] url at an existing folder"
        )
    if path.is_dir():
        raise StorageError(f"storage URL {_mask(url)!r}: {path} is a folder, not a database file")
    return Target(parsed.set(database=str(path)), "sqlite", path)


def _mask(text: str) -> str:
    # Used where the URL could not be parsed, so SQLAlchemy cannot mask it for us.
    return _PASSWORD_IN_TEXT.sub(r"\g<head>***@", text)


def unavailable(target: Target, exc: BaseException) -> StorageError:
    """The error for a database at `target` that cannot be opened or reached: no password."""
    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    reason = target.scrub(f"{type(original).__name__}: {original}".strip())
    where = target.describe()
    if target.backend == "sqlite":
        hint = "check that the file is a SQLite database and that its folder is writable"
        return StorageError(f"cannot open {where}: {reason}; {hint}")
    hint = "check [storage] url, and that the server is running and accepts this login"
    return StorageError(f"cannot connect to {where}: {reason}; {hint}")


def in_private_file(target: Target) -> tuple[Target, Path | None]:
    """`target` with ``:memory:`` moved to a private temporary file, and that file's folder."""
    if not target.memory:
        return target, None
    temp_dir = Path(tempfile.mkdtemp(prefix="botrt-memory-"))
    path = temp_dir / "memory.db"
    return Target(target.url.set(database=str(path)), "sqlite", path), temp_dir
