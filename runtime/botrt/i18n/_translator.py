"""`Translator`: one folder's catalogs, speaking the bot's current language."""

from __future__ import annotations

import gettext
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from pathlib import Path

from botrt.i18n._catalog import DOMAIN, SOURCE_LANGUAGE, load_catalogs

_SOURCE = gettext.NullTranslations()

# While a plugin's modules are imported, the loader sets the plugin's translator here.
LOADING: ContextVar[Translator | None] = ContextVar("botrt_loading_translator", default=None)


class Translator:
    """Translates the texts of one plugin (or of the runtime) into the bot's language.

    The catalogs are read when the translator is made (for a plugin: each
    time it loads or reloads); the language is asked for on every call, so a
    translator follows ``[bot] language`` once `follow` has bound it. A text
    the catalog of that language lacks comes back as written, and plural
    forms then follow the source's rule (1 is singular, anything else plural).

    A plugin reaches its own as ``PLUGIN.translator`` and the usual gettext
    names as methods of its planner (``_ = PLUGIN.gettext``).
    """

    __slots__ = ("_catalogs", "_language", "folder")

    def __init__(
        self,
        catalogs: Mapping[str, gettext.NullTranslations] | None = None,
        language: Callable[[], str] | str = SOURCE_LANGUAGE,
        *,
        folder: Path | None = None,
    ) -> None:
        self._catalogs = dict(catalogs or {})
        self._language: Callable[[], str] = (
            language if callable(language) else (lambda: language)  # type: ignore[misc]
        )
        self.folder = folder

    @classmethod
    def from_folder(
        cls,
        folder: Path,
        language: Callable[[], str] | str = SOURCE_LANGUAGE,
        *,
        domain: str = DOMAIN,
    ) -> Translator:
        """A translator for the catalogs under ``folder/locales``.

        :raises CatalogError: if one of them is not a valid ``.po`` file.
        """
        return cls(load_catalogs(folder, domain), language, folder=folder)

    def follow(self, language: Callable[[], str]) -> None:
        """Speak the language `language()` returns from now on (the bot's, live)."""
        self._language = language

    @property
    def language(self) -> str:
        """The language texts are translated into now: ``"en"`` or ``"ru"``."""
        return self._language()

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages this translator has a catalog for."""
        return tuple(sorted(self._catalogs))

    def _catalog(self) -> gettext.NullTranslations:
        return self._catalogs.get(self._language(), _SOURCE)

    def gettext(self, message: str) -> str:
        """`message` in the bot's language."""
        return self._catalog().gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The form of `singular`/`plural` that fits the number `n`, in the bot's language.

        Format the number in afterwards: ``ngettext("{n} mark", "{n} marks",
        n).format(n=n)``; Russian has three forms (1 прогул, 3 прогула, 11 прогулов).
        """
        return self._catalog().ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        """`message` in the bot's language, in `context` (same words, other meaning)."""
        return self._catalog().pgettext(context, message)

    def npgettext(self, context: str, singular: str, plural: str, n: int) -> str:
        """`ngettext` with a `context`."""
        return self._catalog().npgettext(context, singular, plural, n)

    def translations(self, message: str, context: str | None = None) -> dict[str, str]:
        """`message` as each catalog translates it, by language (languages lacking it left out).

        ``help`` uses it to tell a command's names in other languages from its aliases.
        """
        found: dict[str, str] = {}
        for language, catalog in self._catalogs.items():
            text = (
                catalog.pgettext(context, message)
                if context is not None
                else catalog.gettext(message)
            )
            if text != message:
                found[language] = text
        return found

    def __repr__(self) -> str:
        return f"<Translator {self.folder or '-'} {self.language} {list(self._catalogs)}>"


def core_translator(language: Callable[[], str] | str = SOURCE_LANGUAGE) -> Translator:
    """The translator of the runtime's own texts (refusals, a conversation's end, errors)."""
    return Translator.from_folder(Path(__file__).resolve().parent, language, domain="botrt")


def plugin_translator() -> Translator:
    """The translator of the plugin being loaded: call it at the top of any module of a plugin.

    ``_ = plugin_translator().gettext`` gives a module the plugin's texts
    even when it is imported before ``__plugin__.py`` has made its planner
    (the planner's `translator` is the same object). The translator follows
    the bot's language once the plugin has loaded. Outside a plugin load it
    returns a translator with no catalogs: texts stay as written.
    """
    current = LOADING.get()
    return current if current is not None else Translator()
