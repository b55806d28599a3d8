"""attendance: tracking skipped lectures. Admins mark absences; students see their own.

Commands (``STUDENT`` is a mention ``[id123|Name]``, an id, or a name from the
member list; separate students with commas when a name has spaces, e.g.
``absent Ivanov, Anna Petrova --lesson math``; mentions and ids may also be
separated by spaces):

- ``absent STUDENT... [--lesson NAME] [--date YYYY-MM-DD]`` (admins): marks
  each student absent. Every student must be found, or nothing is written
  (a name that fits several members lists them with their ids). Marking
  twice changes nothing. The marks are committed before the reply.
- ``present STUDENT... [--lesson NAME] [--date YYYY-MM-DD]`` (admins): removes
  the marks of that lesson, or without ``--lesson`` every mark of that day.
- ``attendance``: a member's own absences; for admins, a table of the current
  month. Admins may add a range (``2026-09-01..2026-12-31``, one day, or a
  month ``2026-09``) and a student: ``attendance Ivanov 2026-09``.
- ``rollcall [--lesson NAME] [--date YYYY-MM-DD]`` (admins): the roster as a
  keyboard (16 names a page, with paging buttons); tap who is absent (a tap
  again takes it back), then "Done": every mark is written in one
  transaction and a summary answers. A timeout, a cancel word, "Cancel" or a
  restart before "Done" records nothing (see ``rollcall.py``).
- ``attendance export [RANGE]`` (admins): the marks as CSV (every mark when no
  range): on VK an uploaded document, elsewhere a file whose path is replied.

The day defaults to today by this machine's clock: the plugin API does not
expose ``[bot] timezone``, whose default is this machine's zone anyway.
Without ``--lesson`` a mark covers the whole day.

Settings, ``[plugins.settings.attendance]``:

- ``lessons = ["math", "physics"]``: the lessons ``--lesson`` accepts (any case).
  Without it, any single word is a lesson.
- ``exports_dir = "exports"``: where exports are written on the console and
  other platforms without file upload. By default ``exports/`` beside the
  SQLite database (which sits beside ``bot.toml`` by default), or a
  ``botrt-exports`` temporary folder with PostgreSQL.
"""

from botrt import PluginPlanner
from botrt.plugin import PluginSettings
from botrt.storage import PluginStorage

from .settings import Settings, read_settings
from .store import setup

# settings=Settings: `botrt check` and `botrt serve` check the table against it.
ATTENDANCE = PluginPlanner(version="1.0.0", auto_import=True, settings=Settings)


@ATTENDANCE.on_load
async def prepare(settings: PluginSettings, ps: PluginStorage) -> None:
    """Refuse unusable settings, and create or upgrade the marks table."""
    read_settings(settings)
    await setup(ps)
