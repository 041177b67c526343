"""Parsers of UK Open Banking Open Data v2.x ATM and Branch responses (`data[].Brand[]`).

The schemas are /work/shared/specs/open-banking-opendata-v2.3 (atm/branch.swagger.json).
Publishers' files deviate from them in known ways; each is read anyway and reported as a
warning on the record. Open Banking files carry no repayment facts, so those stay empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import BinaryIO

from backend.hours import DateException, HoursSyntaxError
from backend.uploads.parsers import FileFormatError, RawRecord, blank_fields, split_list
from backend.uploads.parsers.foreign import (
    UK_TIMEZONES,
    Notes,
    check_intervals,
    country_code,
    hours_text,
    phone_number,
    quoted,
    safe_note,
    text,
)
from backend.uploads.parsers.jsonstream import build_value, is_scalar, json_events

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Several publishers cut names at 35 characters (the schema's limit for identifiers).
TRUNCATED_NAME_LENGTH = 35
MAX_EXCEPTION_DAYS = 366
# "09:00", "0900", "09:00:00", "09:00:00.000Z", "09:00:00.000+01:00".
_TIME = re.compile(r"([0-9]{1,2}):?([0-9]{2})(?::?([0-9]{2})(?:\.([0-9]+))?)?(Z|[+-][0-9:]{2,5})?")
_UTC_OFFSETS = frozenset(("Z", "+00:00", "-00:00", "+0000", "-0000", "+00", "-00"))
_ZERO_PADDED = re.compile(r"[+-]?0[0-9]")

Intervals = list[tuple[str, str]]
RecordBuilder = Callable[[str, dict, str | None], RawRecord]


class _BadHours(ValueError):
    """Hours in the file that cannot be read."""


def parse_ob_atms(stream: BinaryIO) -> Iterator[RawRecord]:
    """Yield one RawRecord per ATM of an Open Banking ATM response (`data[].Brand[].ATM[]`).

    :raises FileFormatError: for bad encoding, invalid JSON or another structure.
    """
    yield from _parse(stream, "ATM", _atm_record)


def parse_ob_branches(stream: BinaryIO) -> Iterator[RawRecord]:
    """Yield one RawRecord per branch of an Open Banking Branch response (`...Branch[]`).

    :raises FileFormatError: for bad encoding, invalid JSON or another structure.
    """
    yield from _parse(stream, "Branch", _branch_record)


def _parse(stream: BinaryIO, key: str, build: RecordBuilder) -> Iterator[RawRecord]:
    """Stream the places under `data[].Brand[].<key>[]`, each with its brand's name."""
    what = f"not an Open Banking {key} response"
    events = json_events(stream)
    _, event, _ = next(events)
    if event != "start_map":
        raise FileFormatError(f'{what}: expected an object with a "data" array')
    seen_data = False
    data = brand = item = -1
    brand_name: str | None = None
    brand_named = False
    # A brand's places read before its BrandName wait for it (JSON objects are unordered);
    # in the usual key order BrandName comes first and nothing waits.
    waiting: list[tuple[str, dict]] = []
    places = f"data.item.Brand.item.{key}"
    for prefix, event, value in events:
        if prefix == "data":
            if event == "start_array":
                seen_data = True
            elif event != "end_array":
                raise FileFormatError(f'{what}: "data" is not an array')
        elif prefix == "data.item":
            if event == "start_map":
                data, brand = data + 1, -1
            elif event not in ("map_key", "end_map"):
                raise FileFormatError(f"data[{data + 1}]: not an object")
        elif prefix == "data.item.Brand":
            if event not in ("start_array", "end_array"):
                raise FileFormatError(f"data[{data}].Brand is not an array")
        elif prefix == "data.item.Brand.item":
            if event == "start_map":
                brand, item = brand + 1, -1
                brand_name, brand_named, waiting = None, False, []
            elif event == "end_map":
                yield from (build(locator, place, None) for locator, place in waiting)
                waiting = []
            elif event != "map_key":
                raise FileFormatError(f"data[{data}].Brand[{brand + 1}]: not an object")
        elif prefix == "data.item.Brand.item.BrandName":
            name = build_value(events, event, value) if not is_scalar(event) else value
            brand_name, brand_named = text(name), True
            yield from (build(locator, place, brand_name) for locator, place in waiting)
            waiting = []
        elif prefix == places:
            if event not in ("start_array", "end_array"):
                raise FileFormatError(f"data[{data}].Brand[{brand}].{key} is not an array")
        elif prefix == places + ".item":
            item += 1
            locator = f"data[{data}].Brand[{brand}].{key}[{item}]"
            place = build_value(events, event, value)
            if not isinstance(place, dict):
                raise FileFormatError(f"{locator}: not an object")
            if brand_named:
                yield build(locator, place, brand_name)
            else:
                waiting.append((locator, place))
    if not seen_data:
        raise FileFormatError(f'{what}: no "data" array')


def _atm_record(locator: str, atm: dict, brand: str | None) -> RawRecord:
    notes = Notes()
    fields = blank_fields()
    location = _object(atm.get("Location"))
    fields.update(external_id=text(atm.get("Identification")), kind="atm", brand=brand)
    _read_address(fields, _object(location.get("PostalAddress")), notes)
    # v2.3 names an ATM by its site; some publishers add a Name of their own.
    name = text(atm.get("Name")) or text(_object(location.get("Site")).get("Name"))
    fields["name"] = _checked_name(name, "ATM", fields, notes)
    fields["services"] = split_list(atm.get("ATMServices"))
    fields["accessibility"] = split_list(atm.get("Accessibility"))
    _report_others(atm, ("OtherATMServices", "OtherAccessibility"), notes)
    always_open = atm.get("Access24HoursIndicator")
    if always_open is True:
        fields["opening_hours"] = "24/7"
    elif always_open is False:
        notes.add("Access24HoursIndicator is false and ATM files give no hours: "
                  "opening hours unknown")
    elif always_open is None:
        notes.add("no Access24HoursIndicator: opening hours unknown")
    else:
        notes.add(f"Access24HoursIndicator {quoted(always_open)} is not true or false: "
                  "opening hours unknown")
    return RawRecord(locator, fields, notes.items)


def _branch_record(locator: str, branch: dict, brand: str | None) -> RawRecord:
    notes = Notes()
    fields = blank_fields()
    fields.update(external_id=text(branch.get("Identification")), kind="branch", brand=brand)
    _read_address(fields, _object(branch.get("PostalAddress")), notes)
    fields["name"] = _checked_name(text(branch.get("Name")), "branch", fields, notes)
    if text(branch.get("Type")) == "Mobile":
        stop = quoted(fields["street"]) if fields["street"] else "(none given)"
        notes.add(f'Type "Mobile": a mobile branch whose address is a stop; the stop is '
                  f"kept as the street: {stop}")
    fields["services"] = split_list(branch.get("ServiceAndFacility"))
    fields["accessibility"] = split_list(branch.get("Accessibility"))
    _report_others(branch, ("OtherServiceAndFacility", "OtherAccessibility"), notes)
    for contact in _list(branch.get("ContactInfo")):
        contact = _object(contact)
        if contact.get("ContactType") == "Phone":
            fields["phone"] = phone_number(contact.get("ContactContent"), notes,
                                           "ContactInfo Phone")
            break
    if "Availability" not in branch or branch["Availability"] is None:
        notes.add("no Availability: opening hours unknown")
    else:
        fields["opening_hours"], fields["hours_exceptions"] = _branch_hours(
            _object(branch["Availability"]), notes)
    return RawRecord(locator, fields, notes.items)


def _read_address(fields: dict[str, object], address: dict, notes: Notes) -> None:
    """Street, locality, region, postcode, country, time zone and raw coordinates."""
    parts = [line for line in map(text, _list(address.get("AddressLine"))) if line]
    number, street = text(address.get("BuildingNumber")), text(address.get("StreetName"))
    # AddressLine often repeats the street ("12 High Street"): add it only when it is new.
    if street and not any(street.casefold() in part.casefold() for part in parts):
        parts.append(f"{number} {street}" if number else street)
    elif number and not street and not parts:
        parts.append(number)
    subdivision = address.get("CountrySubDivision")
    country = country_code(address.get("Country"), notes, "Country")
    fields.update(
        street=", ".join(parts) or None, locality=text(address.get("TownName")),
        region=text(_list(subdivision)[0]) if _list(subdivision) else None,
        postcode=text(address.get("PostCode")), country=country,
        timezone=UK_TIMEZONES.get(country or ""),
    )
    coordinates = _object(_object(address.get("GeoLocation")).get("GeographicCoordinates"))
    for column, key in (("lat", "Latitude"), ("lon", "Longitude")):
        value = coordinates.get(key)
        if isinstance(value, str):
            value = value.strip() or None
            if value and _ZERO_PADDED.match(value):
                notes.add(f"{key} {quoted(value)} is zero-padded: read as a decimal number")
        fields[column] = value


def _checked_name(name: str | None, label: str, fields: dict[str, object],
                  notes: Notes) -> str | None:
    """The name, or one made up from brand and address (with a warning) when it is missing."""
    if name is not None:
        if len(name) == TRUNCATED_NAME_LENGTH:
            notes.add(f"Name {quoted(name)} is exactly {TRUNCATED_NAME_LENGTH} characters: "
                      "may be truncated")
        return name
    where = fields["street"] or fields["locality"] or fields["postcode"]
    if fields["brand"] and where:
        made = f"{fields['brand']} {label}, {where}"
    elif fields["external_id"]:
        made = f"{label[0].upper()}{label[1:]} {fields['external_id']}"
    else:
        notes.add("no Name")
        return None
    notes.add(f"no Name: named {quoted(made)}")
    return made


def _report_others(place: dict, keys: tuple[str, ...], notes: Notes) -> None:
    """Warn about free-text services/accessibility: our vocabularies have no code for them."""
    for key in keys:
        names = [text(_object(other).get("Name")) or text(_object(other).get("Code"))
                 for other in _list(place.get(key))]
        shown = ", ".join(quoted(name) for name in names if name)
        if shown:
            notes.add(f"{key} {shown} not imported: no matching code")


def _branch_hours(availability: dict, notes: Notes) -> tuple[str | None, str | None]:
    """(opening_hours, hours_exceptions) text of a branch's Availability."""
    standard = _object(availability.get("StandardAvailability"))
    weekly: list[Intervals] | None = None
    if not isinstance(standard.get("Day"), list):
        notes.add("Availability has no StandardAvailability Day list: opening hours unknown")
    else:
        try:
            weekly = _weekly(standard["Day"], notes)
        except _BadHours as error:
            notes.add(f"StandardAvailability: {error}: opening hours unknown")
    exceptions = _exceptions(_list(availability.get("NonStandardAvailability")), notes)
    try:
        opening, dated = hours_text(weekly or [[] for _ in DAYS], exceptions)
    except HoursSyntaxError as error:  # each day was checked; kept as a safety net
        notes.add(f"Availability does not convert ({error}): opening hours unknown")
        return None, None
    return (opening if weekly is not None else None), dated


def _weekly(days: list, notes: Notes) -> list[Intervals]:
    """Intervals of each weekday (Monday first); a day that is not listed is closed."""
    weekly: list[Intervals] = [[] for _ in DAYS]
    for entry in days:
        entry = _object(entry)
        name = text(entry.get("Name"))
        if name not in DAYS:
            raise _BadHours(f"Day Name {quoted(name)} is not a day of the week")
        for hours in _list(entry.get("OpeningHours")):
            hours = _object(hours)
            weekly[DAYS.index(name)].append((
                _time(hours.get("OpeningTime"), name, "OpeningTime", notes),
                _time(hours.get("ClosingTime"), name, "ClosingTime", notes),
            ))
    for name, intervals in zip(DAYS, weekly, strict=True):
        try:
            check_intervals(intervals)
        except HoursSyntaxError as error:
            raise _BadHours(f"{name}: {error}") from None
    return weekly


def _time(value: object, day: str, label: str, notes: Notes) -> str:
    """HH:MM of an Open Banking time; seconds and a UTC offset are dropped with a warning.

    Publishers write local times, often with a "Z" that does not mean UTC (09:00:00.000Z for
    a branch opening at nine all year), so "Z" is read as local time without a warning.
    """
    raw = text(value)
    match = _TIME.fullmatch(raw or "")
    if raw is None or match is None:
        raise _BadHours(f"{day} {label} {quoted(raw or '')} is not a time")
    hour, minute, second, fraction, offset = match.groups()
    hhmm = f"{int(hour):02d}:{minute}"
    if (second and int(second)) or (fraction and int(fraction)):
        notes.add(f"{label} {quoted(raw)} has seconds: read as {hhmm}")
    if offset and offset not in _UTC_OFFSETS:
        notes.add(f"{label} {quoted(raw)} has a UTC offset: read as the local time {hhmm}")
    return hhmm


def _exceptions(periods: list, notes: Notes) -> list[DateException]:
    """The dated exceptions of NonStandardAvailability periods, one per date of each period."""
    by_date: dict[date, DateException] = {}
    for number, period in enumerate(periods):
        period = _object(period)
        name = text(period.get("Name"))
        label = f"NonStandardAvailability {quoted(name) if name else number}"
        dates = _period_dates(period, label, notes)
        if dates is None:
            continue
        first, last = dates
        try:
            # Days of the week the period does not list are closed; no Day list: closed.
            weekly = _weekly(_list(period.get("Day")), notes)
        except _BadHours as error:
            notes.add(f"{label}: {error}: ignored")
            continue
        note = safe_note(name, notes, "NonStandardAvailability Name")
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            # A later period wins for a date, as a later exception does in our notation.
            by_date[day] = DateException(day, tuple(sorted(weekly[day.weekday()])), note)
    return list(by_date.values())


def _period_dates(period: dict, label: str, notes: Notes) -> tuple[date, date] | None:
    """First and last date of a period, capped at MAX_EXCEPTION_DAYS; None to ignore it."""
    raw_start, raw_end = text(period.get("StartDate")), text(period.get("EndDate"))
    if raw_start is None:
        notes.add(f"{label} has no StartDate: ignored")
        return None
    first = _date(raw_start)
    if first is None:
        notes.add(f"{label} StartDate {quoted(raw_start)} is not a date (YYYY-MM-DD): ignored")
        return None
    if raw_end is None:
        notes.add(f"{label} has no EndDate: applied to its StartDate only")
        return first, first
    last = _date(raw_end)
    if last is None:
        notes.add(f"{label} EndDate {quoted(raw_end)} is not a date (YYYY-MM-DD): ignored")
        return None
    if last < first:
        notes.add(f"{label} ends before it starts: ignored")
        return None
    days = (last - first).days + 1
    if days > MAX_EXCEPTION_DAYS:
        notes.add(f"{label} spans {days} days: only its first {MAX_EXCEPTION_DAYS} are imported")
        last = first + timedelta(days=MAX_EXCEPTION_DAYS - 1)
    return first, last


def _date(value: str) -> date | None:
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _object(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    """A list as it is; a single value (a publisher's shortcut) as a list of one; None as []."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
