"""Schedules: when a scheduled flow runs, parsed once and computed in the schedule's time zone."""

from __future__ import annotations

import bisect
import datetime as dt
import re
import zoneinfo
from collections.abc import Sequence
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

    def latest_at_or_before(self, moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime | None:
        """The last slot at or before `moment` (within the last 8 days), or None; aware UTC.

        Computed from the slot lattice, never by listing slots, so it costs the
        same for ``every="1s"`` as for one time a day.
        """
        return self._nearest(moment, zone, forward=False)

    def next_after(self, moment: dt.datetime, zone: dt.tzinfo) -> dt.datetime | None:
        """The first slot after `moment` (within 8 days), or None; aware UTC.

        Computed from the slot lattice, never by listing slots.
        """
        return self._nearest(moment, zone, forward=True)

    def _nearest(
        self, moment: dt.datetime, zone: dt.tzinfo, *, forward: bool
    ) -> dt.datetime | None:
        # From the local day before `moment`'s (after it, going back) to 8 days on.
        step = _ONE_DAY if forward else -_ONE_DAY
        first_day = moment.astimezone(zone).date() - step
        utc = _naive_utc(moment)
        on_day = self._first_on if forward else self._last_on
        pick = min if forward else max
        best: dt.datetime | None = None
        found_on = 0
        for n in range(10):
            if best is not None and n > found_on + _SETTLE:
                break
            day = first_day + n * step
            if day.weekday() not in self.days:
                continue
            candidate = on_day(day, zone, utc)
            if candidate is None:
                continue
            if best is None:
                best, found_on = candidate, n
            else:
                best = pick(best, candidate)
        return best.replace(tzinfo=dt.UTC) if best is not None else None

    # A slot's instant is its local time minus the UTC offset in force then (for a
    # time the clocks skip or repeat, the offset before the change, as `datetime`
    # reads it with fold=0). Within a stretch of one offset, later local times are
    # later instants, so each stretch needs one lattice look-up; only across a
    # change may a later local time be an earlier instant.

    def _first_on(self, day: dt.date, zone: dt.tzinfo, after: dt.datetime) -> dt.datetime | None:
        midnight = dt.datetime.combine(day, dt.time())
        best = None
        for start, end, offset in _stretches(day, zone):
            # local - offset > after  <=>  seconds after midnight > after - midnight + offset
            floor = (after - midnight + offset) // _ONE_SECOND
            second = self._time_from(max(start, floor + 1))
            if second is not None and second < end:
                instant = midnight + dt.timedelta(seconds=second) - offset
                best = instant if best is None else min(best, instant)
        return best

    def _last_on(self, day: dt.date, zone: dt.tzinfo, until: dt.datetime) -> dt.datetime | None:
        midnight = dt.datetime.combine(day, dt.time())
        best = None
        for start, end, offset in _stretches(day, zone):
            upper = min(end - 1, (until - midnight + offset) // _ONE_SECOND)
            second = self._time_until(upper) if upper >= start else None
            if second is not None and second >= start:
                instant = midnight + dt.timedelta(seconds=second) - offset
                best = instant if best is None else max(best, instant)
        return best

    def _time_from(self, second: int) -> int | None:
        """The first slot time of a day (seconds after midnight) at or after `second`."""
        if self.every:
            found = -(-second // self.every) * self.every
            return found if found < _DAY else None
        index = bisect.bisect_left(self.times, -(-second // 60))
        return self.times[index] * 60 if index < len(self.times) else None

    def _time_until(self, second: int) -> int | None:
        """The last slot time of a day (seconds after midnight) at or before `second`."""
        if second < 0:
            return None
        if self.every:
            return second // self.every * self.every
        index = bisect.bisect_right(self.times, second // 60)
        return self.times[index - 1] * 60 if index else None


_DAY = 86400
_ONE_DAY = dt.timedelta(days=1)
_ONE_SECOND = dt.timedelta(seconds=1)
# Days looked at past the first one holding a slot: an offset change may move a
# later day's slot before it (never by more than a day, so two is ample).
_SETTLE = 2


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _offset(zone: dt.tzinfo, local: dt.datetime) -> dt.timedelta:
    return local.replace(tzinfo=zone).utcoffset() or dt.timedelta(0)


def _stretches(day: dt.date, zone: dt.tzinfo) -> list[tuple[int, int, dt.timedelta]]:
    """`day` cut where its UTC offset changes: (first second, end second, offset) each.

    Offsets change on whole seconds and, in every zone in use, at most once a
    day, so a binary search finds the change in 17 steps.
    """
    midnight = dt.datetime.combine(day, dt.time())
    first = _offset(zone, midnight)
    if _offset(zone, midnight + dt.timedelta(seconds=_DAY - 1)) == first:
        return [(0, _DAY, first)]
    low, high = 0, _DAY - 1  # the offset at `low` is `first`; at `high` it is not
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(zone, midnight + dt.timedelta(seconds=middle)) == first:
            low = middle
        else:
            high = middle
    return [(0, high, first), (high, _DAY, _offset(zone, midnight + dt.timedelta(seconds=high)))]


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
