"""Slot arithmetic: the next and the previous slot, computed directly, DST included.

The reference is the brute force botrt used before: list every slot of the
days around, as local times read with fold=0, and pick. The direct
computation must agree with it everywhere, and must not list slots.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
import zoneinfo

import pytest

from botrt.handle._schedule import ScheduleSpec, parse_schedule

SPECS = [
    {"at": "08:00"},
    {"at": "02:30", "days": "sun"},
    {"at": ["00:00", "00:30", "01:30", "02:00", "02:59", "03:00", "23:59"]},
    {"at": ["03:15", "12:00"], "days": "sat,sun"},
    {"at": "23:30", "days": "mon-fri"},
    {"every": "90s"},
    {"every": "5m", "days": "sat-sun"},
    {"every": "15m", "days": "fri"},
    {"every": "45m"},
    {"every": "1h", "days": "mon,thu"},
    {"every": "3h"},
    {"every": "24h", "days": "sun"},
]

# Zones with a change at 02:00 or 03:00, at midnight (Santiago, Havana), of
# half an hour (Lord Howe), at :45 offsets (Chatham), a skipped day (Apia,
# December 2011), and none at all.
ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "America/Havana",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Apia",
    "Europe/Moscow",
    "UTC",
]


def brute_force(
    spec: ScheduleSpec, zone: dt.tzinfo, first: dt.date, days: int
) -> list[dt.datetime]:
    """Every slot of `days` local days from `first`, sorted, as the old code listed them."""
    out = set()
    for n in range(days):
        day = first + dt.timedelta(days=n)
        if day.weekday() not in spec.days:
            continue
        midnight = dt.datetime.combine(day, dt.time())
        seconds = range(0, 86400, spec.every) if spec.every else [m * 60 for m in spec.times]
        for s in seconds:
            local = midnight + dt.timedelta(seconds=s)
            out.add(local.replace(tzinfo=zone).astimezone(dt.UTC))
    return sorted(out)


def changes(zone: dt.tzinfo, year: int) -> list[dt.datetime]:
    """The instants `zone`'s UTC offset changes in `year` (to the second)."""
    found = []
    hour = dt.timedelta(hours=1)
    moment = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    while moment.year == year:
        if moment.astimezone(zone).utcoffset() != (moment + hour).astimezone(zone).utcoffset():
            low, high = moment, moment + hour
            while high - low > dt.timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(microsecond=0))
        moment += hour
    return found


def moments_around(center: dt.datetime, rng: random.Random) -> list[dt.datetime]:
    near = [0, 1, -1, 59, 1799, 1800, 1801, 3599, 3600, 3601, 5400, 7200, 86399, 86400]
    out = [center + dt.timedelta(seconds=s * sign) for s in near for sign in (1, -1)]
    out += [center + dt.timedelta(seconds=rng.uniform(-3 * 86400, 3 * 86400)) for _ in range(40)]
    return out


@pytest.mark.parametrize("name", ZONES)
def test_next_and_previous_slots_agree_with_listing_them(name: str) -> None:
    zone = zoneinfo.ZoneInfo(name)
    rng = random.Random(name)
    centers = changes(zone, 2025) + changes(zone, 2011)
    centers += [
        dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC),
        dt.datetime(2011, 12, 30, tzinfo=dt.UTC),
    ]
    checked = 0
    for raw in SPECS:
        spec = parse_schedule(
            at=raw.get("at"), days=raw.get("days"), every=raw.get("every"), tz=None
        )
        for center in centers:
            first = center.astimezone(zone).date() - dt.timedelta(days=12)
            slots = brute_force(spec, zone, first, 25)
            for moment in moments_around(center, rng):
                after = slots[bisect.bisect_right(slots, moment)]
                before = slots[bisect.bisect_right(slots, moment) - 1]
                assert spec.next_after(moment, zone) == after, (raw, moment)
                assert spec.latest_at_or_before(moment, zone) == before, (raw, moment)
                checked += 1
    assert checked > 1000


class CountingZone(dt.tzinfo):
    """A zone that counts how often its offset is asked for."""

    def __init__(self, name: str) -> None:
        self.inner = zoneinfo.ZoneInfo(name)
        self.calls = 0

    def utcoffset(self, moment: dt.datetime | None) -> dt.timedelta | None:
        self.calls += 1
        return self.inner.utcoffset(moment)

    def dst(self, moment: dt.datetime | None) -> dt.timedelta | None:
        return self.inner.dst(moment)

    def tzname(self, moment: dt.datetime | None) -> str | None:
        return self.inner.tzname(moment)

    def fromutc(self, moment: dt.datetime) -> dt.datetime:
        self.calls += 1
        local = self.inner.fromutc(moment.replace(tzinfo=self.inner))
        return local.replace(tzinfo=self)


@pytest.mark.parametrize(
    "moment",
    [
        dt.datetime(2025, 3, 30, 0, 59, 59, tzinfo=dt.UTC),  # Berlin: just before 02:00 -> 03:00
        dt.datetime(2025, 10, 26, 0, 30, tzinfo=dt.UTC),  # Berlin: inside the repeated hour
        dt.datetime(2025, 7, 1, 12, 0, 0, 500000, tzinfo=dt.UTC),
    ],
)
def test_a_slot_a_second_is_found_without_listing_the_day(moment: dt.datetime) -> None:
    zone = CountingZone("Europe/Berlin")
    spec = parse_schedule(at=None, days=None, every="1s", tz=None)
    after = spec.next_after(moment, zone)
    before = spec.latest_at_or_before(moment, zone)
    # Listing a day of one-second slots asks for the offset 86,400 times; the
    # direct computation asks a few times a day it looks at, a few dozen at most.
    assert zone.calls < 200
    assert after is not None
    assert before is not None
    assert before <= moment < after
    assert after - moment <= dt.timedelta(seconds=1)
    assert moment - before < dt.timedelta(seconds=1)
    zone.calls = 0
    weekly = parse_schedule(at=None, days="mon", every="1s", tz=None)
    assert weekly.next_after(moment, zone) is not None
    assert zone.calls < 200
