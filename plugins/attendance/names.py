"""The commands' names in the bot's language.

``help`` lists a command under ``pgettext("command", NAME)`` from the catalogs
of the plugin that declares it, when that translation is one of the command's
aliases. These calls put the names into the catalogs (``pybabel extract``
finds them) and say which alias is which language's name.
"""

from __future__ import annotations

from __plugin__ import ATTENDANCE


def command_names() -> dict[str, str]:
    """Each command's name in the bot's language, by its English name."""
    return {
        "absent": ATTENDANCE.pgettext("command", "absent"),
        "present": ATTENDANCE.pgettext("command", "present"),
        "attendance": ATTENDANCE.pgettext("command", "attendance"),
        "rollcall": ATTENDANCE.pgettext("command", "rollcall"),
    }
