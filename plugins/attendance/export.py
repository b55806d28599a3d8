"""CSV exports: the file's content and name, and where it goes without file upload."""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from botrt.i18n import plugin_translator
from botrt.storage import PluginStorage

from .parse import Span
from .settings import Settings
from .store import Mark

T = plugin_translator()
_ = T.gettext


def header() -> tuple[str, ...]:
    """The CSV's column names, in the bot's language."""
    return (
        T.pgettext("csv column", "date"),
        T.pgettext("csv column", "lesson"),
        T.pgettext("csv column", "user_id"),
        T.pgettext("csv column", "name"),
        T.pgettext("csv column", "marked_by"),
        T.pgettext("csv column", "marked_at"),
    )


# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class Export:
    """One CSV export, ready to be uploaded or written.

    Attributes:
        filename: ``attendance-<bot>-<days>-<UTC time>.csv``.
        title: a human title for the document.
        data: the CSV, UTF-8 with a byte order mark.
        count: how many marks it holds.
        span: the days it covers, as shown to the user.
    """

    filename: str
    title: str
    data: bytes
    count: int
    span: str


def build(
    bot: str, marks: Sequence[Mark], names: Mapping[int, str], span: Span | None, now: datetime
) -> Export:
    """The export of `marks` of `bot` over `span` (None: every mark), made at `now`."""
    days = "all" if span is None else f"{span.start}_{span.end}"
    shown = _("all marks") if span is None else str(span)
    filename = f"attendance-{_safe(bot)}-{days}-{now:%Y%m%dT%H%M%SZ}.csv"
    title = _("Attendance, {span}").format(span=shown)
    return Export(filename, title, to_csv(marks, names), len(marks), shown)


def to_csv(marks: Sequence[Mark], names: Mapping[int, str]) -> bytes:
    """`marks` as CSV under `header`, by day, then name, then lesson; ``marked_at`` in UTC.

    Encoded as UTF-8 with a byte order mark, so that spreadsheet programs
    show Cyrillic names correctly when the file is opened with a double click.
    Names and lessons that start like a formula are prefixed with ``'``.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header())
    ordered = sorted(marks, key=lambda m: (m.day, names[m.user_id].casefold(), m.user_id, m.lesson))
    for m in ordered:
        writer.writerow(
            (
                m.day.isoformat(),
                _cell(m.lesson),
                m.user_id,
                _cell(names[m.user_id]),
                m.marked_by,
                m.marked_at.isoformat(timespec="seconds"),
            )
        )
    return out.getvalue().encode("utf-8-sig")


async def exports_folder(settings: Settings, ps: PluginStorage) -> Path:
    """Where exports are written when the platform cannot send files.

    ``exports_dir`` from the settings when given (a relative path counts from
    the database's folder, else the working directory); otherwise ``exports/``
    beside the SQLite database file, which by default sits beside ``bot.toml``;
    otherwise (PostgreSQL) ``botrt-exports`` in the system's temporary folder.

    :raises StorageError: if the database cannot be reached.
    """
    base = await _database_folder(ps)
    if settings.exports_dir is not None:
        folder = settings.exports_dir
        return folder if folder.is_absolute() else (base or Path.cwd()) / folder
    if base is not None:
        return base / "exports"
    return Path(tempfile.gettempdir()) / "botrt-exports"


def write(folder: Path, export: Export) -> Path:
    """Write `export` into `folder` (created if needed); returns the file's absolute path.

    The folder and file are readable by their owner only: they hold names.

    :raises OSError: if the folder cannot be created or the file written.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / export.filename
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(export.data)
    return path.resolve()


async def _database_folder(ps: PluginStorage) -> Path | None:
    # The plugin API does not say where bot.toml is; SQLite itself says where its file is.
    async with ps.begin() as conn:
        if conn.dialect.name != "sqlite":
            return None
        rows = (await conn.exec_driver_sql("PRAGMA database_list")).all()
    for _seq, name, file in rows:
        if name == "main" and file:
            return Path(file).parent
    return None


def _cell(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name) or "bot"
