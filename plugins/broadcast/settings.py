"""The plugin's settings, ``[plugins.settings.broadcast]`` in ``bot.toml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Options:
    """The plugin's settings, ``[plugins.settings.broadcast]``.

    Attributes:
        batch_size: recipients per `send_many` call; None for the platform's own.
        report: send admins a report when a job ends.
        retry_delay: seconds before the first retry of a batch the platform
            refused, or of recipients it failed transiently; doubled on each
            further retry, up to a minute.
        confirm: ask the admin to confirm (recipients, a preview, Send /
            Cancel) before a broadcast starts; off by default, so ``.mb TEXT``
            sends at once.
    """

    batch_size: int | None = None
    report: bool = True
    retry_delay: float = 1.0
    confirm: bool = False

    def __post_init__(self) -> None:
        """Refuse values no broadcast can use (botrt reports this at `botrt check`)."""
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if self.retry_delay < 0:
            raise ValueError(f"retry_delay must be a number of seconds, got {self.retry_delay!r}")

    @classmethod
    def from_settings(cls, settings: Mapping[str, object]) -> Options:
        """Read and check the settings.

        :raises ValueError: naming the setting, if `batch_size` is not a
            positive integer, `report` or `confirm` not a boolean or
            `retry_delay` not a number of seconds.
        """
        batch = settings.get("batch_size")
        if batch is not None and (
            isinstance(batch, bool) or not isinstance(batch, int) or batch < 1
        ):
            raise ValueError(
                f"[plugins.settings.broadcast] batch_size must be a positive integer, got {batch!r}"
            )
        report = settings.get("report", True)
        if not isinstance(report, bool):
            raise ValueError(
                f"[plugins.settings.broadcast] report must be true or false, got {report!r}"
            )
        delay = settings.get("retry_delay", 1.0)
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise ValueError(
                f"[plugins.settings.broadcast] retry_delay must be a number of seconds, "
                f"got {delay!r}"
            )
        confirm = settings.get("confirm", False)
        if not isinstance(confirm, bool):
            raise ValueError(
                f"[plugins.settings.broadcast] confirm must be true or false, got {confirm!r}"
            )
        return cls(batch, report, float(delay), confirm)
