"""``[storage] url``: which databases botrt speaks, and SQLite paths made absolute."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from botrt.config._fs import absolute_path

_SCHEMES: dict[str, Literal["sqlite", "postgresql"]] = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgresql+asyncpg": "postgresql",
}
_MEMORY = ":memory:"


@dataclass(frozen=True, slots=True)
class ResolvedUrl:
    """A checked database URL: the one to connect to, its dialect and its SQLite file."""

    url: str
    dialect: Literal["sqlite", "postgresql"]
    database: Path | None


def resolve_url(url: str, base_dir: Path) -> ResolvedUrl | str:
    """Check `url` and make a relative SQLite path absolute against `base_dir`.

    Returns the resolved URL, or the message that says what is wrong with it.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return f'expected a database URL such as "sqlite:///botrt.db", got "{url}"'
    dialect = _SCHEMES.get(scheme)
    if dialect is None:
        close = difflib.get_close_matches(scheme, _SCHEMES, n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        known = ", ".join(f'"{s}"' for s in _SCHEMES)
        return f'unsupported database scheme "{scheme}"{hint}; botrt supports {known}'
    if dialect == "postgresql":
        return ResolvedUrl(url, dialect, None)
    return _resolve_sqlite(url, rest, base_dir)


def _resolve_sqlite(url: str, rest: str, base_dir: Path) -> ResolvedUrl | str:
    # SQLAlchemy's form: sqlite:///relative.db, sqlite:////absolute.db, sqlite:///:memory:,
    # and plain sqlite:// for memory too. The part after "?" is driver options, kept as is.
    location, qmark, query = rest.partition("?")
    suffix = f"{qmark}{query}"
    if location == "":
        return ResolvedUrl(url, "sqlite", None)
    if not location.startswith("/"):
        return f'a SQLite URL has no host: write "sqlite:///{location}" for a file, got "{url}"'
    file = location[1:]
    if file == _MEMORY:
        return ResolvedUrl(url, "sqlite", None)
    if not file or file.endswith("/"):
        return f'expected a SQLite file name after "sqlite:///", got "{url}"'
    path = absolute_path(file, base_dir)
    return ResolvedUrl(f"sqlite:///{path.as_posix()}{suffix}", "sqlite", path)
