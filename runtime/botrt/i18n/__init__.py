"""Translations: gettext catalogs kept beside the code that uses them, in the bot's language.

``[bot] language`` (``"en"`` or ``"ru"``) picks the language. botrt's own texts
and every plugin's texts are written in English in the code and translated
through gettext catalogs: a plugin keeps its catalogs in its folder,
``locales/<language>/LC_MESSAGES/messages.po``, and the runtime keeps its own
beside this module (domain ``botrt``).

The ``.po`` files are the only thing kept: botrt reads them with Babel and
compiles them in memory when a plugin loads (a few milliseconds), so saving an
edited catalog reloads the plugin with it, like any other file of the
plugin, with no build step and no ``.mo`` file to forget. A message a catalog
lacks (or translates only partly, or marks fuzzy) falls back to the source
text, with the source's plural rule.
"""

from botrt.i18n._audit import MissingTranslation, missing_translations
from botrt.i18n._catalog import (
    CATALOG_DIR,
    LANGUAGES,
    SOURCE_LANGUAGE,
    CatalogError,
    catalog_path,
    load_catalogs,
)
from botrt.i18n._translator import Translator, core_translator, plugin_translator


def N_(message: str) -> str:
    """Mark `message` for extraction without translating it (a text translated later).

    Used where the text is declared before the language is known, e.g. a
    command's ``description``, which ``help`` translates when it lists it.
    """
    return message


__all__ = [
    "CATALOG_DIR",
    "LANGUAGES",
    "N_",
    "SOURCE_LANGUAGE",
    "CatalogError",
    "MissingTranslation",
    "Translator",
    "catalog_path",
    "core_translator",
    "load_catalogs",
    "missing_translations",
    "plugin_translator",
]
