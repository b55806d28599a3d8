"""IANA time zone names: checking one, and finding the machine's own."""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Mapping
from pathlib import Path

_LOCALTIME = Path("/etc/localtime")
_TIMEZONE_FILE = Path("/etc/timezone")


def is_zone_name(name: str) -> bool:
    """Whether `name` is an IANA zone name (``Europe/Moscow``) this machine knows."""
    if name == "UTC":
        return True  # always usable: botrt falls back to datetime.UTC without a zone database
    if not name or name.startswith(("/", ".")):
        return False  # ZoneInfo would read a file path; only database keys are names
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def local_zone_name(environ: Mapping[str, str]) -> str:
    """The machine's zone as an IANA name, or ``"UTC"`` when it cannot be named.

    Looks at ``TZ`` in `environ`, then where ``/etc/localtime`` links to, then
    ``/etc/timezone``. Never raises.
    """
    for candidate in (_from_tz(environ), _from_localtime_link(), _from_timezone_file()):
        if candidate and is_zone_name(candidate):
            return candidate
    return "UTC"


def _from_tz(environ: Mapping[str, str]) -> str | None:
    tz = environ.get("TZ", "").strip()
    # POSIX allows a leading ':' meaning "implementation-defined", in practice a zone name.
    return tz.removeprefix(":") or None


def _from_localtime_link() -> str | None:
    try:
        target = os.readlink(_LOCALTIME)
    except OSError:
        return None
    marker = "zoneinfo/"
    at = target.rfind(marker)
    if at < 0:
        return None
    # Some systems link into the "posix/" or "right/" copies of the database.
    return target[at + len(marker) :].removeprefix("posix/").removeprefix("right/")


def _from_timezone_file() -> str | None:
    try:
        return _TIMEZONE_FILE.read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None
