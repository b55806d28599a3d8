"""Reading a folder's ``.po`` catalogs into gettext translations, with Babel."""

from __future__ import annotations

import gettext
import io
from pathlib import Path

from botrt._errors import BotrtError

LANGUAGES = ("en", "ru")
"""The languages ``[bot] language`` accepts."""
SOURCE_LANGUAGE = "en"
"""The language texts are written in, in the code: what a missing translation shows."""
CATALOG_DIR = "locales"
"""A folder's catalogs sit in ``locales/<language>/LC_MESSAGES/<domain>.po``."""
DOMAIN = "messages"
"""A plugin's catalog domain (the runtime's own is ``botrt``)."""


class CatalogError(BotrtError):
    """A ``.po`` file that cannot be read; the message names the file and line.

    Attributes:
        path: the catalog file.
        line: the line of the problem, when known.
        detail: what is wrong, without the place.
    """

    def __init__(self, path: Path, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.detail = message
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


def catalog_path(folder: Path, language: str, domain: str = DOMAIN) -> Path:
    """Where the catalog of `language` for `domain` lives under `folder`."""
    return folder / CATALOG_DIR / language / "LC_MESSAGES" / f"{domain}.po"


def load_catalogs(folder: Path, domain: str = DOMAIN) -> dict[str, gettext.NullTranslations]:
    """Every catalog of `folder` for `domain`, by language (``{}`` when it has none).

    :raises CatalogError: if a catalog is not a valid ``.po`` file.
    """
    root = folder / CATALOG_DIR
    if not root.is_dir():
        return {}
    found: dict[str, gettext.NullTranslations] = {}
    for language_dir in sorted(root.iterdir()):
        path = catalog_path(folder, language_dir.name, domain)
        if path.is_file():
            found[language_dir.name] = read_catalog(path)
    return found


def read_catalog(path: Path) -> gettext.NullTranslations:
    """The translations of one ``.po`` file, compiled in memory.

    Untranslated, fuzzy and partly translated plural messages are left out,
    so they fall back to the source text as a whole.

    :raises CatalogError: if the file cannot be read or parsed.
    """
    # Babel is imported here, not at import time: a bot without catalogs never needs it.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import PoFileError, read_po

    try:
        with path.open("rb") as file:
            catalog = read_po(file, abort_invalid=True)
    except PoFileError as exc:
        raise CatalogError(path, str(exc.args[0]), exc.lineno) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CatalogError(path, f"cannot be read: {exc}") from None
    for message in list(catalog):
        if message.id and isinstance(message.string, tuple) and not all(message.string):
            catalog.delete(message.id, context=message.context)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)
