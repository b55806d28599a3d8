"""The plugin's settings: ``[plugins.settings.attendance]`` in ``bot.toml``, checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from botrt.i18n import plugin_translator

KNOWN_KEYS = ("lessons", "exports_dir")
MAX_LESSON = 100
"""The longest lesson name, in characters (the column is ``VARCHAR(100)``)."""
# Settings errors are for whoever edits bot.toml and stay English; lesson errors answer users.
_ = plugin_translator().gettext


class SettingsError(ValueError):
    """The attendance settings in ``bot.toml`` cannot be used; the message says why."""


class LessonError(ValueError):
    """A `--lesson` value that names no lesson; the message lists the configured ones."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The attendance settings, validated.

    Attributes:
        lessons: the lessons `--lesson` accepts, in the configured order; empty
            means any single word.
        exports_dir: where CSV exports are written on platforms without file
            upload, as configured (None: the default location).
    """

    lessons: tuple[str, ...] = ()
    exports_dir: Path | None = None

    def __post_init__(self) -> None:
        """Refuse lessons `--lesson` could not name (botrt reports this at `botrt check`)."""
        seen: set[str] = set()
        for lesson in self.lessons:
            # `--lesson NAME` takes one word, and commas separate students.
            if not lesson or any(c.isspace() or c == "," for c in lesson) or lesson[0] == "-":
                raise SettingsError(
                    f"lesson {lesson!r} must be one word (no spaces or commas, no leading '-')"
                )
            if len(lesson) > MAX_LESSON:
                raise SettingsError(
                    f"lesson {lesson[:20]!r}... is longer than {MAX_LESSON} characters"
                )
            if lesson.casefold() in seen:
                raise SettingsError(f"lesson {lesson!r} is listed twice")
            seen.add(lesson.casefold())

    def lesson(self, typed: str) -> str:
        """The lesson `typed` names (the configured spelling), or a free lesson, lowercased.

        :raises LessonError: if lessons are configured and `typed` is none of them,
            or `typed` is longer than `MAX_LESSON`.
        """
        wanted = typed.casefold()
        if self.lessons:
            for lesson in self.lessons:
                if lesson.casefold() == wanted:
                    return lesson
            raise LessonError(
                _("unknown lesson {lesson}; the lessons are: {lessons}").format(
                    lesson=repr(typed), lessons=", ".join(self.lessons)
                )
            )
        if len(typed) > MAX_LESSON:
            raise LessonError(
                _("--lesson {lesson}...: a lesson name has at most {max} characters").format(
                    lesson=typed[:20], max=MAX_LESSON
                )
            )
        return typed.lower()


def read_settings(raw: Mapping[str, object]) -> Settings:
    """Check ``[plugins.settings.attendance]`` and return it as `Settings`.

    :raises SettingsError: if a key is unknown (a typo would otherwise be
        ignored silently), ``lessons`` is not a list of distinct one-word names,
        or ``exports_dir`` is not a non-empty string.
    """
    unknown = sorted(set(raw) - set(KNOWN_KEYS))
    if unknown:
        raise SettingsError(
            f"unknown setting(s) {', '.join(unknown)}; attendance knows {', '.join(KNOWN_KEYS)}"
        )
    lessons = raw.get("lessons", [])
    if not isinstance(lessons, list | tuple) or not all(isinstance(x, str) for x in lessons):
        raise SettingsError(
            f'lessons must be a list of names, like ["math", "physics"], not {lessons!r}'
        )
    exports = raw.get("exports_dir")
    if exports is not None and (not isinstance(exports, str) or not exports.strip()):
        raise SettingsError(f"exports_dir must be a folder path, not {exports!r}")
    return Settings(
        tuple(lessons), Path(exports).expanduser() if isinstance(exports, str) else None
    )
