"""The project's opening-hours evaluation against opening-hours-py, a parser of the full OSM
grammar, on generated weekly schedules in several zones around their 2027 clock changes.

By design the two differ on two points (docs/uploads.md, "Hours"):
- an interval belongs to the day it starts on, so `Fr 22:00-03:00; Sa 10:00-12:00` is open at
  Saturday 01:00 here, while OSM lets Saturday's rule replace the night's tail: the generated
  schedules keep each interval within its day;
- in the repeated hour of a fall-back night a time means its first occurrence and an interval is
  one continuous span, while the reference reads the wall clock again, so `Su 00:00-01:15`
  closes at 01:15 BST and opens again at 01:00 GMT for a quarter of an hour there: moments in
  that hour, and next changes across it, are left out of the comparison.
Everything else, spring-forward gaps included, must agree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from opening_hours import OpeningHours as Reference

from backend.hours import WEEKDAYS, parse_opening_hours, status_at

ZONES = ("Europe/London", "Australia/Sydney", "America/New_York", "America/Santiago",
         "Asia/Singapore", "Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")


def _transitions(zone_name: str, year: int = 2027) -> list[datetime]:
    """The UTC instants a zone's offset changes in a year (none for Singapore)."""
    zone = ZoneInfo(zone_name)
    found, hour = [], datetime(year, 1, 1, tzinfo=UTC)
    previous = hour.astimezone(zone).utcoffset()
    while hour.year == year:
        hour += timedelta(hours=1)
        offset = hour.astimezone(zone).utcoffset()
        if offset != previous:
            found.append(hour)
            previous = offset
    return found or [datetime(year, 3, 28, 1, tzinfo=UTC)]


TRANSITIONS = {zone: _transitions(zone) for zone in ZONES}


def _fall_backs(zone_name: str) -> list[datetime]:
    zone = ZoneInfo(zone_name)
    return [t for t in TRANSITIONS[zone_name]
            if (t - timedelta(hours=1)).astimezone(zone).utcoffset()
            > t.astimezone(zone).utcoffset()]


FALL_BACKS = {zone: _fall_backs(zone) for zone in ZONES}


def _in_repeated_hour(zone: str, instant: datetime) -> bool:
    local = instant.astimezone(ZoneInfo(zone))
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


def _crosses_fall_back(zone: str, start: datetime, end: datetime) -> bool:
    margin = timedelta(hours=3)
    return any(start - margin <= t <= end + margin for t in FALL_BACKS[zone])
# Quarter hours, weighted to the small hours where the clocks change.
TIMES = st.one_of(st.integers(0, 4 * 4 - 1).map(lambda q: q * 15),
                  st.integers(0, 24 * 4 - 1).map(lambda q: q * 15))


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def day_intervals(draw) -> str | None:
    """One day's hours within the day ("01:30-02:30,04:00-05:00"), or None for closed."""
    points = sorted(draw(st.sets(TIMES, min_size=0, max_size=4)))
    if len(points) < 2:
        return None
    pairs = list(zip(points[::2], points[1::2], strict=False))
    return ",".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in pairs)


@st.composite
def schedules(draw) -> str:
    days = [draw(day_intervals()) for _ in WEEKDAYS]
    if draw(st.booleans()):
        days[draw(st.integers(0, 6))] = "00:00-24:00"
    rules = [f"{name} {hours}" for name, hours in zip(WEEKDAYS, days, strict=True) if hours]
    return "; ".join(rules) or "Mo-Su off"


@st.composite
def moments(draw) -> tuple[str, datetime]:
    zone = draw(st.sampled_from(ZONES))
    change = draw(st.sampled_from(TRANSITIONS[zone]))
    minutes = draw(st.integers(-3 * 24 * 60, 3 * 24 * 60))
    return zone, change + timedelta(minutes=minutes)


@settings(max_examples=300, deadline=None)
@given(schedules(), moments())
def test_open_now_and_next_change_agree_with_the_reference(text, moment):
    zone, at = moment
    assume(not _in_repeated_hour(zone, at))
    ours = status_at(parse_opening_hours(text), zone, at)
    reference = Reference(text, timezone=ZoneInfo(zone))
    instant = at.astimezone(UTC_ZONE)
    assert ours.open_now == reference.is_open(instant), (text, zone, at)
    theirs = reference.next_change(instant)
    if ours.next_change_at is not None and theirs is not None:
        mine, reference_change = ours.next_change_at.astimezone(UTC), theirs.astimezone(UTC)
        # The reference can name a "change" that changes nothing (closed to closed at the end
        # of a gap an interval lay wholly inside); only real changes are compared.
        real = reference.is_open(theirs) != reference.is_open(instant)
        if real and not _crosses_fall_back(zone, at, max(mine, reference_change)):
            assert mine == reference_change, (text, zone, at)


def test_the_by_design_differences_are_what_the_docs_say():
    text, zone = "Fr 22:00-03:00; Sa 10:00-12:00", "Europe/London"
    saturday_one = datetime(2027, 6, 5, 0, 30, tzinfo=UTC)  # 01:30 BST
    assert status_at(parse_opening_hours(text), zone, saturday_one).open_now is True
    assert Reference(text, timezone=ZoneInfo(zone)).is_open(saturday_one.astimezone(UTC_ZONE)) \
        is False
    # Fall-back night in London: 01:00-02:00 happens twice (BST, then GMT).
    text = "Su 00:00-01:15"
    second_one = datetime(2027, 10, 31, 1, 0, tzinfo=UTC)  # 01:00 GMT, the repeat
    assert status_at(parse_opening_hours(text), zone, second_one).open_now is False
    assert Reference(text, timezone=ZoneInfo(zone)).is_open(second_one.astimezone(UTC_ZONE)) \
        is True
