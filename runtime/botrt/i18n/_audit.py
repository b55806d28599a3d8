"""Which texts of a folder's code its catalogs do not translate (``botrt check`` warns)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from botrt.i18n._catalog import DOMAIN, SOURCE_LANGUAGE, CatalogError, catalog_path

_SKIPPED_DIRS = ("__pycache__", ".venv", "node_modules")


@dataclass(frozen=True, slots=True)
class MissingTranslation:
    """A text of the code that a catalog does not translate.

    Attributes:
        language: the catalog's language.
        catalog: the catalog file (it may not exist yet).
        message: the text as written in the code (its singular, for plurals).
        context: its gettext context, or None.
        location: ``file:line`` of its first use in the code.
    """

    language: str
    catalog: Path
    message: str
    context: str | None
    location: str

    def __str__(self) -> str:
        shown = f"{self.context}|{self.message}" if self.context else self.message
        return f"{self.location}: no {self.language} translation of {shown!r} in {self.catalog}"


def missing_translations(
    folder: Path, languages: Iterable[str], *, domain: str = DOMAIN
) -> list[MissingTranslation]:
    """The texts marked for translation in `folder`'s Python files that a catalog lacks.

    Texts are found as ``pybabel extract`` finds them: the arguments of
    ``_``, ``gettext``, ``ngettext``, ``pgettext``, ``npgettext`` and ``N_``
    calls (also as methods, ``PLUGIN.gettext(...)``). A text counts as missing
    when the catalog of a language in `languages` does not exist, lacks it,
    leaves it untranslated, marks it fuzzy, or translates only some of its
    plural forms. The source language needs no catalog.

    :raises CatalogError: if a catalog is not a valid ``.po`` file.
    """
    wanted = [lang for lang in dict.fromkeys(languages) if lang != SOURCE_LANGUAGE]
    if not wanted:
        return []
    texts = _extract(folder)
    missing: list[MissingTranslation] = []
    for language in wanted:
        path = catalog_path(folder, language, domain)
        translated = _translated(path)
        for key, location in texts.items():
            if key not in translated:
                missing.append(MissingTranslation(language, path, key[1], key[0], location))
    return missing


def _extract(folder: Path) -> dict[tuple[str | None, str], str]:
    from babel.messages.extract import extract_from_dir

    def keep(path: str) -> bool:
        name = Path(path).name
        return not name.startswith(".") and name not in _SKIPPED_DIRS

    found: dict[tuple[str | None, str], str] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        folder, directory_filter=keep
    ):
        singular = message[0] if isinstance(message, tuple) else message
        if singular:
            found.setdefault((context, singular), f"{folder / filename}:{lineno}")
    return found


def _translated(path: Path) -> set[tuple[str | None, str]]:
    if not path.is_file():
        return set()
    from babel.messages.pofile import PoFileError, read_po

    try:
        with path.open("rb") as file:
            catalog = read_po(file, abort_invalid=True)
    except PoFileError as exc:
        raise CatalogError(path, str(exc.args[0]), exc.lineno) from None
    done: set[tuple[str | None, str]] = set()
    for m in catalog:
        if not m.id or m.fuzzy:
            continue
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if all(strings):
            singular = m.id[0] if isinstance(m.id, tuple) else m.id
            done.add((m.context, singular))
    return done
