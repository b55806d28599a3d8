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
    """

    batch_size: int | None = None
    report: bool = True
    retry_delay: float = 1.0

    @classmethod
    def from_settings(cls, settings: Mapping[str, object]) -> Options:
        """Read and check the settings.

        :raises ValueError: naming the setting, if `batch_size` is not a
            positive integer, `report` not a boolean or `retry_delay` not a
            number of seconds.
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
        return cls(batch, report, float(delay))
