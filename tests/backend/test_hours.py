"""Tests for backend.hours: notation parsing, serialisation, and status across DST changes."""

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.hours import (
    WEEKDAYS,
    DateException,
    DaySchedule,
    HoursStatus,
    HoursSyntaxError,
    OpeningHours,
    local_datetime,
    parse_opening_hours,
    status_at,
    week_schedule,
)

LONDON = "Europe/London"
SYDNEY = "Australia/Sydney"
NINE_TO_FIVE = (("09:00", "17:00"),)


def hours(text: str, exceptions: str | None = None) -> OpeningHours:
    parsed = parse_opening_hours(text, exceptions)
    assert parsed is not None
    return parsed


def status(text: str, when: str, tz: str = LONDON, exceptions: str | None = None) -> HoursStatus:
    return status_at(hours(text, exceptions), tz, datetime.fromisoformat(when))


def describe(result: HoursStatus) -> str:
    """E.g. "open, closes 2026-06-01T17:00:00+01:00"; the ISO text shows the UTC offset too."""
    state = "open" if result.open_now else "closed"
    if result.next_change is None and result.next_change_at is None:
        return state
    when = result.next_change_at.isoformat() if result.next_change_at else None
    return f"{state}, {result.next_change} {when}"


def open_days(text: str) -> str:
    return " ".join(name for name, day in zip(WEEKDAYS, hours(text).weekly, strict=True) if day)


# --- parsing: opening_hours ----------------------------------------------------------------------


def test_day_range_and_unnamed_days_closed() -> None:
    assert hours("Mo-Fr 09:00-17:00").weekly == (NINE_TO_FIVE,) * 5 + ((), ())


def test_day_list_and_combined_ranges() -> None:
    assert hours("Mo,We,Fr 10:00-12:00").weekly == tuple(
        (("10:00", "12:00"),) if i in (0, 2, 4) else () for i in range(7)
    )
    assert open_days("Mo-We,Fr 10:00-12:00") == "Mo Tu We Fr"


def test_wrapping_day_range() -> None:
    assert open_days("Fr-Mo 10:00-14:00") == "Mo Fr Sa Su"
    assert open_days("Su-Tu 10:00-14:00") == "Mo Tu Su"


def test_multiple_intervals_are_sorted() -> None:
    assert hours("Mo 13:00-17:00,09:00-12:00").weekly[0] == (
        ("09:00", "12:00"),
        ("13:00", "17:00"),
    )


def test_touching_intervals_are_not_an_overlap() -> None:
    assert hours("Mo 09:00-12:00,12:00-17:00").weekly[0] == (("09:00", "12:00"), ("12:00", "17:00"))


def test_off_and_later_rules_override_earlier_ones() -> None:
    weekly = hours("Mo-Fr 09:00-17:00; We off; Fr 10:00-16:00; Mo-Su 08:00-09:00; Su off").weekly
    assert weekly[:6] == ((("08:00", "09:00"),),) * 6
    assert weekly[6] == ()
    assert hours("Mo-Sa 09:00-17:00; Sa off").weekly[5] == ()


def test_24_7() -> None:
    assert hours("24/7").weekly == ((("00:00", "24:00"),),) * 7
    assert hours("24/7; Su off").weekly[5:] == ((("00:00", "24:00"),), ())


def test_whitespace_tolerated() -> None:
    assert hours("  Mo - Fr  09:00 - 12:00 , 13:00-17:00 ;Sa off ") == hours(
        "Mo-Fr 09:00-12:00,13:00-17:00"
    )


def test_overnight_and_24_00_end() -> None:
    weekly = hours("Fr 22:00-03:00; Sa 18:00-24:00").weekly
    assert weekly[4] == (("22:00", "03:00"),)
    assert weekly[5] == (("18:00", "24:00"),)


@pytest.mark.parametrize("text", [None, "", "   "])
def test_unknown_hours(text: str | None) -> None:
    assert parse_opening_hours(text) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Mo-Fr 09:00-17:00; Sa 25:00-14:00", 'rule 2 "Sa 25:00-14:00": hour must be 00-24'),
        ("Mo 12:60-13:00", 'rule 1 "Mo 12:60-13:00": minutes must be 00-59'),
        ("Xx 09:00-17:00", 'unknown day "Xx" (use Mo Tu We Th Fr Sa Su)'),
        ("Mo-Xy 09:00-17:00", 'unknown day "Xy"'),
        ("garbage", 'rule 1 "garbage": unknown day "garbage"'),
        ("09:00-17:00", 'unknown day "09:00"'),
        ("Mo-Fr", 'rule 1 "Mo-Fr": missing hours (HH:MM-HH:MM or "off")'),
        ("Mo 09:00-12:00,", 'bad interval "", expected HH:MM-HH:MM'),
        ("Mo 09:00-12:00 13:00-17:00", 'bad interval "09:00-12:00 13:00-17:00"'),
        ("Mo closed", 'bad interval "closed"'),
        ("Mo 9:00-17:00", 'time "9:00" must be HH:MM'),
        ("Mo 24:00-02:00", "24:00 is only allowed as the end of an interval"),
        ("Mo 09:00-24:30", "24:00 is only allowed as the end of an interval"),
        ("Mo 09:00-13:00,12:00-17:00", "intervals 09:00-13:00 and 12:00-17:00 overlap"),
        ("Mo 22:00-03:00,23:00-23:30", "intervals 22:00-03:00 and 23:00-23:30 overlap"),
        ("Mo 09:00-17:00;; Tu off", 'rule 2 "": empty'),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(HoursSyntaxError, match=re.escape(message)):
        parse_opening_hours(text)


def test_syntax_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="hour must be 00-24"):
        parse_opening_hours("Mo 25:00-26:00")


# --- parsing: hours_exceptions -------------------------------------------------------------------


def test_exceptions_with_notes_sorted_by_date() -> None:
    parsed = hours("Mo-Fr 09:00-17:00", '2026-12-25 off "Christmas Day"; 2026-12-24 09:00-12:00')
    assert parsed.exceptions == (
        DateException(date(2026, 12, 24), (("09:00", "12:00"),), None),
        DateException(date(2026, 12, 25), (), "Christmas Day"),
    )


def test_exception_range_is_inclusive_and_shares_its_note() -> None:
    parsed = hours("Mo-Fr 09:00-17:00", '2026-08-03 .. 2026-08-07 off  "Refit"')
    assert [e.date.day for e in parsed.exceptions] == [3, 4, 5, 6, 7]
    assert {(e.intervals, e.note) for e in parsed.exceptions} == {((), "Refit")}


def test_later_exception_entries_win() -> None:
    parsed = hours("Mo-Fr 09:00-17:00", "2026-08-01..2026-08-31 off; 2026-08-15 10:00-12:00")
    by_date = {e.date: e.intervals for e in parsed.exceptions}
    assert len(by_date) == 31
    assert by_date[date(2026, 8, 15)] == (("10:00", "12:00"),)
    assert by_date[date(2026, 8, 16)] == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-02-30 off", 'exception 1 "2026-02-30 off": bad date "2026-02-30"'),
        ("2026-12-25 off; 25/12/2026 off", 'exception 2 "25/12/2026 off": bad date "25/12/2026"'),
        ("2026-12-26..2026-12-24 off", "date range ends before it starts"),
        ("2026-12-25", 'missing hours (HH:MM-HH:MM or "off")'),
        ('2026-12-25 "Christmas" off', 'a note must be one "quoted text" at the end'),
        ("2026-12-24 09:00-25:00", "hour must be 00-24"),
        ("2026-12-24 09:00-13:00,12:00-14:00", "overlap"),
    ],
)
def test_exception_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(HoursSyntaxError, match=re.escape(message)):
        parse_opening_hours("Mo-Fr 09:00-17:00", text)


def test_exceptions_checked_even_when_hours_unknown() -> None:
    assert parse_opening_hours("", "2026-12-25 off") is None
    with pytest.raises(HoursSyntaxError, match="bad date"):
        parse_opening_hours("", "2026-13-25 off")


# --- status_at -----------------------------------------------------------------------------------
# 2026-06-01 is a Monday; London is on BST (+01:00) in June.


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-06-01T08:59:59+01:00", "closed, opens 2026-06-01T09:00:00+01:00"),
        ("2026-06-01T09:00:00+01:00", "open, closes 2026-06-01T17:00:00+01:00"),
        ("2026-06-01T16:59:59+01:00", "open, closes 2026-06-01T17:00:00+01:00"),
        ("2026-06-01T17:00:00+01:00", "closed, opens 2026-06-02T09:00:00+01:00"),
        ("2026-06-05T18:00:00+01:00", "closed, opens 2026-06-08T09:00:00+01:00"),
        ("2026-06-06T12:00:00+01:00", "closed, opens 2026-06-08T09:00:00+01:00"),
    ],
)
def test_boundaries_start_inclusive_end_exclusive(when: str, expected: str) -> None:
    assert describe(status("Mo-Fr 09:00-17:00", when)) == expected


def test_next_change_expressed_in_place_timezone() -> None:
    result = status("Mo-Fr 09:00-17:00", "2026-06-01T10:00:00+00:00")  # 11:00 BST
    assert describe(result) == "open, closes 2026-06-01T17:00:00+01:00"
    assert result.next_change_at is not None
    assert str(result.next_change_at.tzinfo) == LONDON


def test_naive_datetime_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        status_at(hours("24/7"), LONDON, datetime(2026, 6, 1, 12))


@pytest.mark.parametrize(
    ("when", "soon", "closes_soon"),
    [
        ("2026-06-01T16:30:00+01:00", timedelta(minutes=30), True),
        ("2026-06-01T16:29:59+01:00", timedelta(minutes=30), False),
        ("2026-06-01T16:00:00+01:00", timedelta(hours=1), True),
        ("2026-06-01T08:45:00+01:00", timedelta(minutes=30), False),  # closed, opening soon
    ],
)
def test_closes_soon(when: str, soon: timedelta, closes_soon: bool) -> None:
    result = status_at(hours("Mo-Fr 09:00-17:00"), LONDON, datetime.fromisoformat(when), soon)
    assert result.closes_soon is closes_soon


def test_overnight_interval_open_after_midnight() -> None:
    # 2026-06-05 is a Friday.
    assert (
        describe(status("Fr 22:00-03:00", "2026-06-06T01:00:00+01:00"))
        == "open, closes 2026-06-06T03:00:00+01:00"
    )
    assert (
        describe(status("Fr 22:00-03:00", "2026-06-06T03:00:00+01:00"))
        == "closed, opens 2026-06-12T22:00:00+01:00"
    )


def test_24_7_has_no_next_change() -> None:
    assert status("24/7", "2026-06-01T12:00:00+01:00") == HoursStatus(True, None, None, False)


def test_always_closed_has_no_next_change() -> None:
    assert status("Mo-Su off", "2026-06-01T12:00:00+01:00") == HoursStatus(False, None, None, False)


def test_look_ahead_is_14_days() -> None:
    text, exceptions = "Mo-Su off", "2026-06-15 10:00-11:00"
    assert (
        describe(status(text, "2026-06-01T10:00:00+01:00", exceptions=exceptions))
        == "closed, opens 2026-06-15T10:00:00+01:00"
    )
    assert describe(status(text, "2026-06-01T09:59:59+01:00", exceptions=exceptions)) == "closed"


@pytest.mark.parametrize(
    ("text", "expected_close"),
    [
        ("Mo 00:00-24:00; Tu 00:00-24:00", "2026-06-03T00:00:00+01:00"),
        ("Mo 18:00-24:00; Tu 00:00-02:00", "2026-06-02T02:00:00+01:00"),
        ("Mo 22:00-00:00; Tu 00:00-02:00", "2026-06-02T02:00:00+01:00"),
        ("Mo 20:00-04:00; Tu 02:00-06:00", "2026-06-02T06:00:00+01:00"),  # overlap across days
        ("Mo 20:00-04:00; Tu 04:00-06:00,06:00-07:00", "2026-06-02T07:00:00+01:00"),
    ],
)
def test_touching_intervals_merge_without_a_change_at_midnight(
    text: str, expected_close: str
) -> None:
    assert describe(status(text, "2026-06-01T23:00:00+01:00")) == f"open, closes {expected_close}"


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-12-24T10:00:00+00:00", "open, closes 2026-12-24T17:00:00+00:00"),
        ("2026-12-24T17:00:00+00:00", "closed, opens 2026-12-28T09:00:00+00:00"),
        ("2026-12-25T10:00:00+00:00", "closed, opens 2026-12-28T09:00:00+00:00"),
    ],
)
def test_exception_closes_days(when: str, expected: str) -> None:
    # 2026-12-25 is a Friday; GMT (+00:00) in December.
    exceptions = '2026-12-25 off "Christmas Day"; 2026-12-26 off'
    assert describe(status("Mo-Sa 09:00-17:00", when, exceptions=exceptions)) == expected


def test_exception_with_hours_replaces_the_day() -> None:
    result = status(
        "Mo-Fr 09:00-17:00",
        "2026-12-24T13:00:00+00:00",
        exceptions="2026-12-24 10:00-12:00,14:00-15:00",
    )
    assert describe(result) == "closed, opens 2026-12-24T14:00:00+00:00"


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-07-31T16:00:00+01:00", "open, closes 2026-07-31T17:00:00+01:00"),
        ("2026-07-31T17:00:00+01:00", "closed, opens 2026-08-10T09:00:00+01:00"),
        ("2026-08-05T12:00:00+01:00", "closed, opens 2026-08-10T09:00:00+01:00"),
    ],
)
def test_temporary_closure_range(when: str, expected: str) -> None:
    exceptions = '2026-08-03..2026-08-07 off "Refurbishment"'
    assert describe(status("Mo-Fr 09:00-17:00", when, exceptions=exceptions)) == expected


def test_closure_longer_than_look_ahead_has_no_next_change() -> None:
    result = status(
        "Mo-Fr 09:00-17:00", "2026-08-03T12:00:00+01:00", exceptions="2026-08-01..2026-09-30 off"
    )
    assert result == HoursStatus(False, None, None, False)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-06-06T02:00:00+01:00", "open, closes 2026-06-06T03:00:00+01:00"),
        ("2026-06-06T03:00:00+01:00", "closed, opens 2026-06-06T12:00:00+01:00"),
        ("2026-06-06T14:00:00+01:00", "closed, opens 2026-06-12T22:00:00+01:00"),
    ],
)
def test_overnight_interval_spills_into_an_exception_day(when: str, expected: str) -> None:
    # Friday 2026-06-05 22:00 - Saturday 03:00; the Saturday exception only replaces Saturday's own.
    result = status("Fr-Sa 22:00-03:00", when, exceptions="2026-06-06 12:00-14:00")
    assert describe(result) == expected


def test_overnight_exception_spills_into_a_normal_day() -> None:
    result = status(
        "Mo-Fr 09:00-17:00", "2026-06-02T01:00:00+01:00", exceptions="2026-06-01 20:00-02:00"
    )
    assert describe(result) == "open, closes 2026-06-02T02:00:00+01:00"


# --- DST -----------------------------------------------------------------------------------------
# London: 2026-03-29 01:00 GMT -> 02:00 BST; 2026-10-25 02:00 BST -> 01:00 GMT (both Sundays).
# Sydney: 2026-04-05 03:00 AEDT -> 02:00 AEST; 2026-10-04 02:00 AEST -> 03:00 AEDT (both Sundays).


@pytest.mark.parametrize(
    ("tz", "day", "hhmm", "expected"),
    [
        (LONDON, "2026-06-01", "09:00", "2026-06-01T09:00:00+01:00"),
        (LONDON, "2026-06-01", "24:00", "2026-06-02T00:00:00+01:00"),
        (LONDON, "2026-03-28", "24:00", "2026-03-29T00:00:00+00:00"),
        (LONDON, "2026-03-29", "01:30", "2026-03-29T02:00:00+01:00"),  # in the gap: the jump
        (LONDON, "2026-03-29", "02:00", "2026-03-29T02:00:00+01:00"),
        (LONDON, "2026-10-25", "01:30", "2026-10-25T01:30:00+01:00"),  # ambiguous: first
        (SYDNEY, "2026-10-04", "02:30", "2026-10-04T03:00:00+11:00"),  # in the gap: the jump
        (SYDNEY, "2026-04-05", "02:30", "2026-04-05T02:30:00+11:00"),  # ambiguous: first
    ],
)
def test_local_datetime(tz: str, day: str, hhmm: str, expected: str) -> None:
    assert local_datetime(tz, date.fromisoformat(day), hhmm).isoformat() == expected


def test_local_datetime_in_gap_is_the_instant_the_clock_jumps() -> None:
    for hhmm in ("01:00", "01:01", "01:30", "01:59"):
        assert local_datetime(LONDON, date(2026, 3, 29), hhmm) == datetime(
            2026, 3, 29, 1, 0, tzinfo=UTC
        )


def test_local_datetime_in_the_repeated_hour_is_its_first_occurrence() -> None:
    # 2026-10-25: 01:00-02:00 happens twice in London, first in BST, then in GMT.
    # (Compared in UTC: PEP 495 makes a time in a fold unequal to any other zone's.)
    assert local_datetime(LONDON, date(2026, 10, 25), "01:30").astimezone(UTC) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("tz", "text", "opens", "real_hours"),
    [
        (LONDON, "Su 00:00-24:00", "2026-03-29 00:00", 23),
        (LONDON, "Su 00:00-24:00", "2026-10-25 00:00", 25),
        (LONDON, "Sa 22:00-03:00", "2026-03-28 22:00", 4),
        (LONDON, "Sa 22:00-03:00", "2026-10-24 22:00", 6),
        (LONDON, "Su 01:00-03:00", "2026-10-25 01:00", 3),
        (LONDON, "Su 00:00-00:00", "2026-10-25 00:00", 25),
        (LONDON, "Mo 09:00-09:00", "2026-06-01 09:00", 24),
        (SYDNEY, "Su 00:00-24:00", "2026-04-05 00:00", 25),
        (SYDNEY, "Su 00:00-24:00", "2026-10-04 00:00", 23),
        (SYDNEY, "Sa 22:00-03:00", "2026-04-04 22:00", 6),
        (SYDNEY, "Sa 22:00-03:00", "2026-10-03 22:00", 4),
    ],
)
def test_real_opening_length_on_dst_days(tz: str, text: str, opens: str, real_hours: int) -> None:
    day, hhmm = opens.split()
    opened = local_datetime(tz, date.fromisoformat(day), hhmm)
    result = status_at(hours(text), tz, opened)
    assert result.open_now
    assert result.next_change_at is not None
    # Same-zone aware datetimes subtract by wall clock; UTC gives the real elapsed time.
    assert result.next_change_at.astimezone(UTC) - opened.astimezone(UTC) == timedelta(
        hours=real_hours
    )


@pytest.mark.parametrize(
    ("text", "when", "expected"),
    [
        # Spring forward: the close after the gap is in BST.
        ("Sa 22:00-03:00", "2026-03-28T23:00:00+00:00", "open, closes 2026-03-29T03:00:00+01:00"),
        ("Su 00:00-24:00", "2026-03-29T00:30:00+00:00", "open, closes 2026-03-30T00:00:00+01:00"),
        # A start in the gap opens when the clock jumps to 02:00 BST.
        ("Su 01:30-04:00", "2026-03-29T00:30:00+00:00", "closed, opens 2026-03-29T02:00:00+01:00"),
        ("Su 01:30-02:15", "2026-03-29T00:30:00+00:00", "closed, opens 2026-03-29T02:00:00+01:00"),
        ("Su 01:30-02:30", "2026-03-29T01:10:00+00:00", "open, closes 2026-03-29T02:30:00+01:00"),
        # Wholly inside the gap: no opening that night, and no phantom one after it.
        ("Mo-Su 01:30-01:45", "2026-03-29T00:30:00+00:00",
         "closed, opens 2026-03-30T01:30:00+01:00"),
        # Fall back: open through both 01:30s; the close is in GMT.
        ("Su 01:00-03:00", "2026-10-25T01:30:00+01:00", "open, closes 2026-10-25T03:00:00+00:00"),
        ("Su 01:00-03:00", "2026-10-25T01:30:00+00:00", "open, closes 2026-10-25T03:00:00+00:00"),
        ("Su 00:00-01:30", "2026-10-25T01:15:00+00:00", "closed, opens 2026-11-01T00:00:00+00:00"),
    ],
)
def test_next_change_across_london_dst(text: str, when: str, expected: str) -> None:
    assert describe(status(text, when, LONDON)) == expected


@pytest.mark.parametrize(
    ("text", "when", "expected"),
    [
        # Spring forward (October): the close after the gap is in AEDT.
        ("Sa 22:00-03:00", "2026-10-03T23:00:00+10:00", "open, closes 2026-10-04T03:00:00+11:00"),
        ("Su 02:30-04:00", "2026-10-04T01:30:00+10:00", "closed, opens 2026-10-04T03:00:00+11:00"),
        # Fall back (April): open through both 02:30s; the close is in AEST.
        ("Sa 22:00-03:00", "2026-04-05T02:30:00+11:00", "open, closes 2026-04-05T03:00:00+10:00"),
        ("Sa 22:00-03:00", "2026-04-05T02:30:00+10:00", "open, closes 2026-04-05T03:00:00+10:00"),
        ("Su 09:00-17:00", "2026-04-04T12:00:00+11:00", "closed, opens 2026-04-05T09:00:00+10:00"),
    ],
)
def test_next_change_across_sydney_dst(text: str, when: str, expected: str) -> None:
    assert describe(status(text, when, SYDNEY)) == expected


def test_closes_soon_counts_real_time_across_fall_back() -> None:
    # At 01:45 BST the 02:00 GMT close is 75 real minutes away, not 15.
    result = status("Su 00:00-02:00", "2026-10-25T01:45:00+01:00")
    assert describe(result) == "open, closes 2026-10-25T02:00:00+00:00"
    assert not result.closes_soon


# --- serialisation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "exceptions", "expected"),
    [
        ("24/7", "", ("24/7", "")),
        ("Mo-Su 00:00-24:00", "", ("24/7", "")),
        ("Mo-Su off", "", ("Mo-Su off", "")),
        (
            "Mo-Fr 09:00-17:00; We 09:00-12:00; Sa 10:00-14:00",
            "",
            ("Mo-Tu,Th-Fr 09:00-17:00; We 09:00-12:00; Sa 10:00-14:00", ""),
        ),
        ("Mo,Sa,Su 10:00-14:00", "", ("Sa-Mo 10:00-14:00", "")),
        ("Mo-Su 10:00-14:00; Th off", "", ("Fr-We 10:00-14:00", "")),
        (
            "24/7",
            '2026-12-26 off "Boxing Day"; 2026-12-25 off "Christmas Day"; 2026-12-27 off',
            (
                "Mo-Su 00:00-24:00",
                '2026-12-25 off "Christmas Day"; 2026-12-26 off "Boxing Day"; 2026-12-27 off',
            ),
        ),
        (
            "Mo-Fr 09:00-17:00",
            '2026-08-03..2026-08-05 off "Refit"; 2026-08-06 10:00-12:00,13:00-14:00 "Refit"',
            (
                "Mo-Fr 09:00-17:00",
                '2026-08-03..2026-08-05 off "Refit"; 2026-08-06 10:00-12:00,13:00-14:00 "Refit"',
            ),
        ),
    ],
)
def test_to_text_is_compact(text: str, exceptions: str, expected: tuple[str, str]) -> None:
    assert hours(text, exceptions).to_text() == expected


def test_to_json_shape() -> None:
    parsed = hours("Mo-Fr 09:00-17:00; Sa 22:00-02:00", '2026-12-25 off "Christmas Day"')
    assert parsed.to_json() == {
        "weekly": {
            "Mo": [["09:00", "17:00"]],
            "Tu": [["09:00", "17:00"]],
            "We": [["09:00", "17:00"]],
            "Th": [["09:00", "17:00"]],
            "Fr": [["09:00", "17:00"]],
            "Sa": [["22:00", "02:00"]],
            "Su": [],
        },
        "exceptions": [{"date": "2026-12-25", "intervals": [], "note": "Christmas Day"}],
    }


def test_from_json_sorts_exceptions_and_intervals() -> None:
    data = {
        "weekly": {name: [] for name in WEEKDAYS}
        | {"Mo": [["13:00", "17:00"], ["09:00", "12:00"]]},
        "exceptions": [
            {"date": "2026-12-26", "intervals": [], "note": None},
            {"date": "2026-12-25", "intervals": [], "note": "Christmas Day"},
        ],
    }
    parsed = OpeningHours.from_json(data)
    assert parsed.weekly[0] == (("09:00", "12:00"), ("13:00", "17:00"))
    assert [e.date.day for e in parsed.exceptions] == [25, 26]


def _json_with(**changes: object) -> dict:
    data = hours("Mo-Fr 09:00-17:00", '2026-12-25 off "Christmas Day"').to_json()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "weekly must have exactly the keys Mo Tu We Th Fr Sa Su"),
        ({"exceptions": []}, "weekly must have exactly the keys"),
        (_json_with(weekly={"Mo": []}), "weekly must have exactly the keys"),
        (
            _json_with(weekly={name: [["09:00", "25:00"]] for name in WEEKDAYS}),
            "weekly Mo: hour must be 00-24",
        ),
        (
            _json_with(weekly={name: [["09:00"]] for name in WEEKDAYS}),
            'weekly Mo: intervals must be a list of ["HH:MM", "HH:MM"] pairs',
        ),
        (_json_with(weekly={name: "09:00-17:00" for name in WEEKDAYS}), "intervals must be a list"),
        (_json_with(weekly={name: [[9, 17]] for name in WEEKDAYS}), "intervals must be a list"),
        (
            _json_with(
                weekly={name: [["09:00", "13:00"], ["12:00", "14:00"]] for name in WEEKDAYS}
            ),
            "overlap",
        ),
        (_json_with(exceptions={}), "exceptions must be a list"),
        (_json_with(exceptions=["2026-12-25"]), 'exception 1: must be an object with "date"'),
        (
            _json_with(exceptions=[{"date": "2026-12-32", "intervals": []}]),
            'exception 1: bad date "2026-12-32"',
        ),
        (_json_with(exceptions=[{"date": "2026-12-25"}]), "exception 1: intervals must be a list"),
        (
            _json_with(exceptions=[{"date": "2026-12-25", "intervals": [], "note": 'a "b"'}]),
            'note must be text without " or ;',
        ),
        (
            _json_with(exceptions=[{"date": "2026-12-25", "intervals": [], "note": "a;b"}]),
            "note must be text",
        ),
        (
            _json_with(exceptions=[{"date": "2026-12-25", "intervals": []}] * 2),
            "more than one entry for a date",
        ),
    ],
)
def test_from_json_rejects_bad_data(data: object, message: str) -> None:
    with pytest.raises(HoursSyntaxError, match=re.escape(message)):
        OpeningHours.from_json(data)  # type: ignore[arg-type]


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def day_intervals(draw: st.DrawFn) -> tuple[tuple[str, str], ...]:
    """Sorted, non-overlapping intervals for one day, the last one possibly overnight."""
    points = sorted(draw(st.sets(st.integers(0, 24 * 60), max_size=6)))
    pairs = list(zip(points[::2], points[1::2], strict=False))  # an odd point out is unused
    if pairs and draw(st.booleans()):
        start = pairs[-1][0]
        pairs[-1] = (start, draw(st.integers(0, start)))  # end <= start: ends the next day
    return tuple((_hhmm(start), _hhmm(end)) for start, end in pairs)


notes = st.none() | st.text(st.characters(exclude_characters='";', exclude_categories=("Cs",)))


@st.composite
def opening_hours(draw: st.DrawFn) -> OpeningHours:
    weekly = tuple(draw(day_intervals()) for _ in WEEKDAYS)
    first = date(2026, 1, 1)
    offsets = draw(st.sets(st.integers(0, 60), max_size=8))
    exceptions = tuple(
        DateException(
            first + timedelta(days=offset),
            draw(st.just(()) | day_intervals()),
            draw(st.sampled_from(["Closed", None]) | notes),
        )
        for offset in sorted(offsets)
    )
    return OpeningHours(weekly, exceptions)


@given(opening_hours())
def test_text_round_trip(original: OpeningHours) -> None:
    text, exceptions = original.to_text()
    assert parse_opening_hours(text, exceptions) == original


@given(opening_hours())
def test_json_round_trip(original: OpeningHours) -> None:
    assert OpeningHours.from_json(json.loads(json.dumps(original.to_json()))) == original


@given(
    opening_hours(),
    st.sampled_from([LONDON, SYDNEY, "America/New_York", "UTC"]),
    st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31), timezones=st.just(UTC)),
)
def test_status_holds_until_next_change_and_flips_there(
    parsed: OpeningHours, tz: str, when: datetime
) -> None:
    now = status_at(parsed, tz, when)
    if now.next_change_at is None:
        return
    assert now.next_change == ("closes" if now.open_now else "opens")
    assert now.next_change_at > when
    midway = status_at(parsed, tz, when + (now.next_change_at - when) / 2)
    assert (midway.open_now, midway.next_change_at) == (now.open_now, now.next_change_at)
    assert status_at(parsed, tz, now.next_change_at).open_now is not now.open_now


# --- week_schedule -------------------------------------------------------------------------------


def test_week_schedule_marks_exceptions_and_notes() -> None:
    parsed = hours("Mo-Fr 09:00-17:00", '2026-12-25 off "Christmas Day"; 2026-12-24 09:00-12:00')
    schedule = week_schedule(parsed, date(2026, 12, 21))
    assert [day.date for day in schedule] == [
        date(2026, 12, 21) + timedelta(days=i) for i in range(7)
    ]
    assert schedule[0] == DaySchedule(date(2026, 12, 21), NINE_TO_FIVE, False, None)
    assert schedule[3] == DaySchedule(date(2026, 12, 24), (("09:00", "12:00"),), True, None)
    assert schedule[4] == DaySchedule(date(2026, 12, 25), (), True, "Christmas Day")
    assert schedule[5] == DaySchedule(date(2026, 12, 26), (), False, None)


def test_week_schedule_length() -> None:
    assert len(week_schedule(hours("24/7"), date(2026, 6, 1), days=14)) == 14
