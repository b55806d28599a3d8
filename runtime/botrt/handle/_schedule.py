"""Schedules: when a scheduled flow runs, parsed once and computed in the schedule's time zone."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from botrt._errors import BotrtError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_EVERY = re.compile(r"^(\d+)\s*(s|m|h)$")
_UNITS = {"s": 1, "m": 60, "h": 3600}


class ScheduleError(BotrtError, ValueError):
    """Raised by `on_schedule` for a time, day or interval it cannot read; names the value."""


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """When a scheduled flow runs.

    Attributes:
        times: the times of day (minutes after midnight), for ``at=``.
        every: the interval in seconds, for ``every=`` (slots from midnight).
        days: the weekdays it runs on (0 = Monday).
        tz: an IANA zone name, or None for ``[bot] timezone``.
    """

    times: tuple[int, ...]
    every: int | None
    days: frozenset[int]
    tz: str | None

    def describe(self) -> str:
        """A short human description (``mon-fri at 08:00``)."""
        when = (
            f"every {self.every}s"
            if self.every
            else "at " + ", ".join(f"{t // 60:02d}:{t % 60:02d}" for t in self.times)
        )
        days = ",".join(DAY_NAMES[d] for d in sorted(self.days))
        return f"{days} {when}" + (f" ({self.tz})" if self.tz else "")

    def _local_slots(self, day: dt.date) -> Iterator[dt.datetime]:
        if day.weekday() not in self.days:
            return
        midnight = dt.datetime.combine(day, dt.time())
        if self.every:
            for seconds in range(0, 86400, self.every):
                yield midnight + dt.timedelta(seconds=seconds)
        else:
            for minutes in self.times:
                yield midnight + dt.timedelta(minutes=minutes)

    def slots_around(self, moment: dt.datetime, zone: dt.tzinfo) -> list[dt.datetime]:
        """Every slot from 8 days before `moment` to 8 days after, as aware UTC times."""
        local_day = moment.astimezone(zone).date()
        out = []
        for offset in range(-8, 9):
            for naive in self._local_slots(local_day + dt.timedelta(days=offset)):
                out.append(naive.replace(tzinfo=zone).astimezone(dt.UTC))
        return sorted(set(out))

    def latest_at_or_before(self, moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime | None:
        """The last slot at or before `moment` (within the last 8 days), or None."""
        past = [s for s in self.slots_around(moment, zone) if s <= moment]
        return past[-1] if past else None

    def next_after(self, moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime | None:
        """The first slot after `moment` (within 8 days), or None."""
        future = [s for s in self.slots_around(moment, zone) if s > moment]
        return future[0] if future else None


def parse_schedule(
    *,
    at: str | Sequence[str] | None,
    days: str | Sequence[str] | None,
    every: str | None,
    tz: str | None,
) -> ScheduleSpec:
    """Validate `on_schedule`'s arguments.

    :raises ScheduleError: naming the value that cannot be read.
    """
    if (at is None) == (every is None):
        raise ScheduleError("on_schedule needs exactly one of at='HH:MM' or every='15m'")
    times: tuple[int, ...] = ()
    interval: int | None = None
    if at is not None:
        values = [at] if isinstance(at, str) else list(at)
        if not values:
            raise ScheduleError("on_schedule(at=[]) gives no time to run at")
        parsed = []
        for value in values:
            match = _TIME.match(str(value).strip())
            if not match:
                raise ScheduleError(f"at={value!r}: not a time of day (HH:MM, 00:00 to 23:59)")
            parsed.append(int(match.group(1)) * 60 + int(match.group(2)))
        times = tuple(sorted(set(parsed)))
    else:
        match = _EVERY.match(str(every).strip().lower())
        seconds = int(match.group(1)) * _UNITS[match.group(2)] if match else 0
        if not match or not 0 < seconds <= 86400 or 86400 % seconds:
            raise ScheduleError(
                f"every={every!r}: not an interval that divides a day (like '30s', '15m', '2h')"
            )
        interval = seconds
    return ScheduleSpec(times, interval, _parse_days(days), _check_tz(tz))


def _parse_days(days: str | Sequence[str] | None) -> frozenset[int]:
    if days is None:
        return frozenset(range(7))
    parts: list[str] = []
    for item in [days] if isinstance(days, str) else list(days):
        parts.extend(p.strip().lower() for p in str(item).split(",") if p.strip())
    if not parts:
        raise ScheduleError(f"days={days!r}: no day given")
    chosen: set[int] = set()
    for part in parts:
        if part in ("*", "daily", "every day"):
            chosen.update(range(7))
            continue
        first, sep, last = part.partition("-")
        if first[:3] not in DAY_NAMES or (sep and last[:3] not in DAY_NAMES):
            raise ScheduleError(
                f"days={days!r}: {part!r} is not a day or a range of days (mon..sun, 'mon-fri')"
            )
        start = DAY_NAMES.index(first[:3])
        end = DAY_NAMES.index(last[:3]) if sep else start
        day = start
        while True:
            chosen.add(day)
            if day == end:
                break
            day = (day + 1) % 7
    return frozenset(chosen)


def _check_tz(tz: str | None) -> str | None:
    if tz is None:
        return None
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"tz={tz!r}: not an IANA time zone (like 'Europe/Moscow')") from None
    return tz
