"""Opening hours of a place: parsing, serialisation, and open/closed status correct across DST.

Text notation (a subset of OSM opening_hours), as used in our CSV files:
    opening_hours    "Mo-Fr 09:00-17:00; Sa 10:00-14:00", "Fr 22:00-03:00", "Mo,We off", "24/7"
    hours_exceptions '2026-12-25 off "Christmas Day"; 2026-08-03..2026-08-07 off'
Times are wall-clock times in the place's IANA timezone; an end <= start is on the next day.

Clock changes: a time inside the spring-forward gap (01:30 in London on the last Sunday of
March) means the instant the clock jumps to (02:00 BST), so an interval starting in the gap opens
when the clock jumps and one lying wholly inside it does not open that night. A time in the
repeated hour of a fall-back night means its first occurrence (01:30 BST, not 01:30 GMT).
An interval belongs to the day it starts on: `Fr 22:00-03:00` runs into Saturday whatever
Saturday's rule says (OSM's reading lets a later day's rule cut it off; see docs/uploads.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import groupby, pairwise
from zoneinfo import ZoneInfo

WEEKDAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
LOOK_AHEAD = timedelta(days=14)

Interval = tuple[str, str]
Intervals = tuple[Interval, ...]

_ONE_DAY = timedelta(days=1)
_DAY_MINUTES = 24 * 60
_ALL_DAY: Intervals = (("00:00", "24:00"),)
_TIME_RE = re.compile(r"([0-9]{2}):([0-9]{2})")
_INTERVAL_RE = re.compile(r"([^-]*)-([^-]*)")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Spaces around separators are tolerated; dropping them leaves one space between head and hours.
_SEPARATOR_RE = re.compile(r"\s*(,|-|\.\.)\s*")
_NOTE_RE = re.compile(r'([^"]*?)\s*(?:"([^"]*)")?')
_NOTE_FORBIDDEN = frozenset('";')  # they would break the text notation


class HoursSyntaxError(ValueError):
    """Opening hours text or JSON that cannot be understood."""


@dataclass(frozen=True)
class DateException:
    """Hours for a date, replacing the weekly intervals that start on it; no intervals = closed."""

    date: date
    intervals: Intervals
    note: str | None = None


@dataclass(frozen=True)
class OpeningHours:
    """Weekly intervals (Mo..Su) plus dated exceptions (sorted by date, one per date)."""

    weekly: tuple[Intervals, ...]
    exceptions: tuple[DateException, ...] = ()

    def to_json(self) -> dict:
        """JSON-ready dict: {"weekly": {"Mo": [["09:00", "17:00"]], ...}, "exceptions": [...]}."""
        return {
            "weekly": {
                name: [list(i) for i in day]
                for name, day in zip(WEEKDAYS, self.weekly, strict=True)
            },
            "exceptions": [
                {
                    "date": exception.date.isoformat(),
                    "intervals": [list(i) for i in exception.intervals],
                    "note": exception.note,
                }
                for exception in self.exceptions
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> OpeningHours:
        """Build from to_json() output, validating it (HoursSyntaxError on bad data)."""
        weekly = data.get("weekly") if isinstance(data, dict) else None
        if not isinstance(weekly, dict) or set(weekly) != set(WEEKDAYS):
            raise HoursSyntaxError(f"weekly must have exactly the keys {' '.join(WEEKDAYS)}")
        days = []
        for name in WEEKDAYS:
            with _where(f"weekly {name}"):
                days.append(_json_intervals(weekly[name]))
        raw_exceptions = data.get("exceptions", [])
        if not isinstance(raw_exceptions, list):
            raise HoursSyntaxError("exceptions must be a list")
        exceptions = []
        for number, item in enumerate(raw_exceptions, 1):
            with _where(f"exception {number}"):
                exceptions.append(_json_exception(item))
        dates = [exception.date for exception in exceptions]
        if len(set(dates)) != len(dates):
            raise HoursSyntaxError("exceptions: more than one entry for a date")
        return cls(tuple(days), tuple(sorted(exceptions, key=lambda e: e.date)))

    def to_text(self) -> tuple[str, str]:
        """(opening_hours, hours_exceptions) in the compact text notation."""
        if not self.exceptions and all(day == _ALL_DAY for day in self.weekly):
            return "24/7", ""
        days_by_intervals: dict[Intervals, list[int]] = {}
        for index, intervals in enumerate(self.weekly):
            days_by_intervals.setdefault(intervals, []).append(index)
        rules = [
            f"{_days_text(days)} {_hours_text(intervals)}"
            for intervals, days in days_by_intervals.items()
            if intervals
        ]
        # An empty string would read back as "hours unknown", so say closed explicitly.
        return "; ".join(rules) or "Mo-Su off", _exceptions_text(self.exceptions)


@dataclass(frozen=True)
class HoursStatus:
    """Whether a place is open at an instant, and when that next changes."""

    open_now: bool
    next_change_at: datetime | None
    next_change: str | None
    closes_soon: bool


@dataclass(frozen=True)
class DaySchedule:
    """The intervals starting on one date, and whether an exception supplied them."""

    date: date
    intervals: Intervals
    is_exception: bool
    note: str | None


def parse_opening_hours(text: str | None, exceptions: str | None = None) -> OpeningHours | None:
    """Parse the text notation; None when the hours are unknown (empty text)."""
    # Exceptions are checked even when the hours are unknown, so bad CSV data is not hidden.
    parsed_exceptions = _parse_exceptions(exceptions) if exceptions and exceptions.strip() else ()
    if not text or not text.strip():
        return None
    return OpeningHours(_parse_weekly(text), parsed_exceptions)


def status_at(
    hours: OpeningHours, tz: str, at: datetime, soon: timedelta = timedelta(minutes=30)
) -> HoursStatus:
    """Open/closed state at `at` and the next change within LOOK_AHEAD, in the place's timezone."""
    if at.utcoffset() is None:
        raise ValueError("at must be timezone-aware")
    zone = ZoneInfo(tz)
    # Work in UTC: aware datetimes sharing a tzinfo compare and subtract by wall clock, which is
    # wrong across DST changes.
    now = at.astimezone(UTC)
    horizon = now + LOOK_AHEAD
    # From yesterday, whose overnight interval may still be running, to the horizon's date, so every
    # interval starting by the horizon is known and any change found up to it is real.
    first = now.astimezone(zone).date() - _ONE_DAY
    last = horizon.astimezone(zone).date()
    open_now, change, kind = False, None, None
    for start, end in _open_spans(hours, tz, first, last):
        if end > now:
            open_now = start <= now
            change, kind = (end, "closes") if open_now else (start, "opens")
            break
    if change is None or change > horizon:
        return HoursStatus(open_now, None, None, False)
    return HoursStatus(open_now, change.astimezone(zone), kind, open_now and change - now <= soon)


def week_schedule(hours: OpeningHours, start: date, days: int = 7) -> list[DaySchedule]:
    """Intervals starting on each of `days` dates from `start`, exceptions applied."""
    exceptions = {exception.date: exception for exception in hours.exceptions}
    schedule = []
    for day in (start + timedelta(days=offset) for offset in range(days)):
        exception = exceptions.get(day)
        if exception:
            schedule.append(DaySchedule(day, exception.intervals, True, exception.note))
        else:
            schedule.append(DaySchedule(day, hours.weekly[day.weekday()], False, None))
    return schedule


def local_datetime(tz: str, day: date, hhmm: str) -> datetime:
    """Aware datetime in `tz` for wall-clock `hhmm` on `day`; "24:00" is the next midnight.

    A time in a spring-forward gap is the instant the clock jumps (the gap's end); a time in a
    fall-back's repeated hour is its first occurrence.
    """
    zone = ZoneInfo(tz)
    naive = datetime.combine(day, time()) + timedelta(minutes=_minutes(hhmm, end=True))
    return wall_clock_instant(naive, zone)


def wall_clock_instant(naive: datetime, zone: ZoneInfo) -> datetime:
    """The instant (aware, in `zone`) a wall-clock time names, by the rules in local_datetime."""
    # fold=0 picks the first of two ambiguous times. In a gap it reads the time with the offset
    # from before the gap, landing it the gap's length late (01:30 -> 02:30 BST): detected by the
    # round trip not giving the wall-clock time back, and moved to the jump itself.
    first = naive.replace(tzinfo=zone).astimezone(UTC)
    local = first.astimezone(zone)
    if local.replace(tzinfo=None) == naive:
        return local
    return _transition_before(first, zone).astimezone(zone)


def _transition_before(instant: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of the offset change at or before `instant` (less than a day before)."""
    after = instant.astimezone(zone).utcoffset()
    low, high = instant - _ONE_DAY, instant  # the offset at low differs, at high it is `after`
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def _open_spans(
    hours: OpeningHours, tz: str, first: date, last: date
) -> list[tuple[datetime, datetime]]:
    """UTC [start, end) spans of intervals starting on first..last, merged where they touch."""
    spans = []
    for day in week_schedule(hours, first, (last - first).days + 1):
        for start, end in day.intervals:
            end_day = day.date if _minutes(end, end=True) > _minutes(start) else day.date + _ONE_DAY
            span = (
                local_datetime(tz, day.date, start).astimezone(UTC),
                local_datetime(tz, end_day, end).astimezone(UTC),
            )
            # Inside a spring-forward gap an end can land at or before its start: never open.
            if span[0] < span[1]:
                spans.append(span)
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        # Touching spans (midnight between two all-day intervals) are one opening, not a change.
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@contextmanager
def _where(place: str) -> Iterator[None]:
    """Prefix a HoursSyntaxError raised inside with where it happened."""
    try:
        yield
    except HoursSyntaxError as error:
        raise HoursSyntaxError(f"{place}: {error}") from None


def _parse_weekly(text: str) -> tuple[Intervals, ...]:
    weekly: list[Intervals] = [()] * 7
    for number, rule in enumerate(text.split(";"), 1):
        with _where(f'rule {number} "{rule.strip()}"'):
            head, hours = _split_entry(rule)
            if head == "24/7" and not hours:
                days, intervals = list(range(7)), _ALL_DAY
            else:
                days, intervals = _parse_days(head), _parse_hours(hours)
            # Later rules replace earlier ones for the days they name (OSM semantics).
            for day in days:
                weekly[day] = intervals
    return tuple(weekly)


def _parse_exceptions(text: str) -> tuple[DateException, ...]:
    by_date: dict[date, DateException] = {}
    for number, entry in enumerate(text.split(";"), 1):
        with _where(f'exception {number} "{entry.strip()}"'):
            match = _NOTE_RE.fullmatch(entry.strip())
            if not match:
                raise HoursSyntaxError('a note must be one "quoted text" at the end')
            dates, hours = _split_entry(match[1])
            first, dots, last = dates.partition("..")
            start = _parse_date(first)
            end = _parse_date(last) if dots else start
            if end < start:
                raise HoursSyntaxError("date range ends before it starts")
            intervals = _parse_hours(hours)
        for offset in range((end - start).days + 1):
            day = start + timedelta(days=offset)
            # Later entries win, as later rules do, e.g. open hours inside a closure range.
            by_date[day] = DateException(day, intervals, match[2])
    return tuple(sorted(by_date.values(), key=lambda e: e.date))


def _split_entry(entry: str) -> tuple[str, str]:
    """Split a rule or exception into its days/dates and its hours, separators normalised."""
    parts = _SEPARATOR_RE.sub(r"\1", entry.strip()).split(None, 1)
    if not parts:
        raise HoursSyntaxError("empty (stray ';'?)")
    return parts[0], parts[1] if len(parts) > 1 else ""


def _parse_days(text: str) -> list[int]:
    days = []
    for part in text.split(","):
        first, dash, last = part.partition("-")
        start = _weekday(first)
        end = _weekday(last) if dash else start
        # Modulo 7 makes wrapping ranges such as Fr-Mo work.
        days.extend((start + offset) % 7 for offset in range((end - start) % 7 + 1))
    return days


def _weekday(name: str) -> int:
    if name not in WEEKDAYS:
        raise HoursSyntaxError(f'unknown day "{name}" (use {" ".join(WEEKDAYS)})')
    return WEEKDAYS.index(name)


def _parse_hours(text: str) -> Intervals:
    """Parse "off" or comma-separated HH:MM-HH:MM intervals."""
    if text == "off":
        return ()
    if not text:
        raise HoursSyntaxError('missing hours (HH:MM-HH:MM or "off")')
    intervals = []
    for part in text.split(","):
        match = _INTERVAL_RE.fullmatch(part)
        if not match:
            raise HoursSyntaxError(f'bad interval "{part}", expected HH:MM-HH:MM')
        intervals.append((match[1], match[2]))
    return _checked(intervals)


def _parse_date(text: str) -> date:
    if _DATE_RE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass  # well formed but not a real date, e.g. 2026-02-30
    raise HoursSyntaxError(f'bad date "{text}", expected YYYY-MM-DD')


def _minutes(hhmm: str, *, end: bool = False) -> int:
    """Minutes after midnight of "HH:MM"; "24:00" only when it ends an interval."""
    match = _TIME_RE.fullmatch(hhmm)
    if not match:
        raise HoursSyntaxError(f'time "{hhmm}" must be HH:MM')
    hours, minutes = int(match[1]), int(match[2])
    if hours > 24:
        raise HoursSyntaxError("hour must be 00-24")
    if minutes > 59:
        raise HoursSyntaxError("minutes must be 00-59")
    if hours == 24 and (minutes or not end):
        raise HoursSyntaxError("24:00 is only allowed as the end of an interval")
    return hours * 60 + minutes


def _span(interval: Interval) -> tuple[int, int]:
    """Start and end in minutes after the start day's midnight; overnight ends pass 24:00."""
    start, end = _minutes(interval[0]), _minutes(interval[1], end=True)
    return start, end if end > start else end + _DAY_MINUTES


def _checked(intervals: Iterable[Interval]) -> Intervals:
    """Validate one day's intervals and return them sorted by start."""
    by_start = sorted((_span(interval), interval) for interval in intervals)
    for (before_span, before), (after_span, after) in pairwise(by_start):
        if after_span[0] < before_span[1]:
            raise HoursSyntaxError(f"intervals {'-'.join(before)} and {'-'.join(after)} overlap")
    return tuple(interval for _, interval in by_start)


def _json_intervals(value: object) -> Intervals:
    def is_pair(item: object) -> bool:
        return (
            isinstance(item, list | tuple)
            and len(item) == 2
            and all(isinstance(t, str) for t in item)
        )

    if not isinstance(value, list | tuple) or not all(is_pair(item) for item in value):
        raise HoursSyntaxError('intervals must be a list of ["HH:MM", "HH:MM"] pairs')
    return _checked(tuple(item) for item in value)


def _json_exception(item: object) -> DateException:
    if not isinstance(item, dict) or not isinstance(item.get("date"), str):
        raise HoursSyntaxError('must be an object with "date", "intervals" and "note"')
    note = item.get("note")
    if note is not None and (not isinstance(note, str) or _NOTE_FORBIDDEN & set(note)):
        raise HoursSyntaxError('note must be text without " or ;')
    return DateException(_parse_date(item["date"]), _json_intervals(item.get("intervals")), note)


def _days_text(days: list[int]) -> str:
    """Compact day list: [0, 1, 2, 4] -> "Mo-We,Fr"; [0, 5, 6] -> "Sa-Mo"."""
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][-1] == 6:
        runs[0] = runs.pop() + runs[0]
    return ",".join(
        WEEKDAYS[run[0]] if len(run) == 1 else f"{WEEKDAYS[run[0]]}-{WEEKDAYS[run[-1]]}"
        for run in runs
    )


def _hours_text(intervals: Intervals) -> str:
    return ",".join(f"{start}-{end}" for start, end in intervals) or "off"


def _exceptions_text(exceptions: tuple[DateException, ...]) -> str:
    """Exceptions as text, consecutive dates with the same hours and note folded into a range."""
    entries = []
    # Date minus position is constant along a run of consecutive dates.
    for (_, intervals, note), run in groupby(
        enumerate(exceptions),
        key=lambda pair: (pair[1].date - timedelta(days=pair[0]), pair[1].intervals, pair[1].note),
    ):
        dates = [exception.date for _, exception in run]
        when = dates[0].isoformat()
        if len(dates) > 1:
            when += f"..{dates[-1].isoformat()}"
        entries.append(
            f"{when} {_hours_text(intervals)}" + (f' "{note}"' if note is not None else "")
        )
    return "; ".join(entries)


# --- the spellings people write --------------------------------------------------------------

_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
                         "\u2014": "-", "\u2212": "-", "\u2009": " ", "\u00a0": " "})
_ONE_DIGIT_HOUR = re.compile(r"(?<![0-9:])([0-9]):([0-9]{2})")
_DOT_TIME = re.compile(r"(?<![0-9.])([0-9]{1,2})\.([0-9]{2})(?![0-9.])")
_CLOSED = re.compile(r"\b(?:closed|Closed|CLOSED)\b")
_DAY_TOKEN = re.compile(r"\b(mo|tu|we|th|fr|sa|su|MO|TU|WE|TH|FR|SA|SU)\b")
_DAY_LIST = r"(?:Mo|Tu|We|Th|Fr|Sa|Su)(?:\s*[-,]\s*(?:Mo|Tu|We|Th|Fr|Sa|Su))*"
_DAYS_COLON = re.compile(rf"^({_DAY_LIST})\s*:\s")
# ", " before a day list starts another rule in OSM's grammar ("Mo-We 09:00-18:00, Th-Fr ...").
_COMMA_RULE = re.compile(rf"(?:(?<=[0-9])|(?<=off)),\s*(?={_DAY_LIST}\s+(?:[0-9]|off\b))")
_HOLIDAY_RULE = re.compile(r"(?:PH|SH)(?:\s*,\s*(?:PH|SH))*(?:\s.*)?")
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
_DATED_RULE = re.compile(rf"(?:[0-9]{{4}}\s*)?(?:{_MONTHS}|week\b|easter\b)|[0-9]{{4}}\b.*")


def _quoted(value: str, limit: int = 80) -> str:
    return f'"{value if len(value) <= limit else value[:limit - 1] + "…"}"'


def normalise_opening_hours(value: str) -> tuple[str | None, tuple[str, ...]]:
    """An opening_hours value as people write it, in our notation; and what was done to it.

    Spellings that mean the same are rewritten without a word: one-digit hours (9:30), en or em
    dashes, "closed" for "off", lower-case days (mo-su), "Mo-Fr: 09:00-17:00", a comma between
    rules ("Mo-We 09:00-18:00, Th-Fr 09:00-17:00"), empty rules. A reading that is a guess
    (18.00 for 18:00) says so. Rules our weekly hours cannot hold (public and school holidays,
    months, dates, week numbers, years) are left out, each named in a warning. None means the
    hours are unknown: nothing weekly is left, or the value cannot be read (a warning says why).
    """
    return _normalised(value)


@lru_cache(maxsize=4096)
def _normalised(value: str) -> tuple[str | None, tuple[str, ...]]:
    found: list[str] = []
    text = value.translate(_DASHES).strip()
    text = _ONE_DIGIT_HOUR.sub(r"0\1:\2", text)
    if _DOT_TIME.search(text):
        dotted = _DOT_TIME.sub(lambda m: f"{int(m[1]):02d}:{m[2]}", text)
        found.append(f"opening_hours {_quoted(value)}: times with a dot read as HH:MM "
                     f"({_quoted(dotted)})")
        text = dotted
    text = _CLOSED.sub("off", text)
    text = _DAY_TOKEN.sub(lambda m: m[1].capitalize(), text)
    text = _COMMA_RULE.sub("; ", text)
    rules = [_DAYS_COLON.sub(r"\1 ", rule.strip()) for rule in text.split(";") if rule.strip()]
    kept = []
    for rule in rules:
        if _HOLIDAY_RULE.fullmatch(rule):
            found.append(f"opening_hours: {_quoted(rule)} dropped (public and school holidays "
                         "are not modelled)")
        elif _DATED_RULE.match(rule):
            found.append(f"opening_hours: {_quoted(rule)} dropped (months, dates, weeks and "
                         "years are not modelled; add dated closures as hours_exceptions)")
        else:
            kept.append(rule)
    if not kept:
        if rules:
            found.append(f"opening_hours {_quoted(value)} has no weekly hours: hours unknown")
        return None, tuple(found)
    hours = "; ".join(kept)
    try:
        parse_opening_hours(hours)
    except HoursSyntaxError as error:
        found.append(f"opening_hours {_quoted(value)} not understood ({error}): hours unknown")
        return None, tuple(found)
    return hours, tuple(found)
