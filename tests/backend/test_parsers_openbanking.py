"""Open Banking Open Data v2.x ATM and Branch responses: mapping, tolerated deviations, errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from backend.hours import parse_opening_hours
from backend.uploads.parsers import COLUMNS, FileFormatError, RawRecord, detect_format, parse_file
from backend.uploads.parsers.openbanking import parse_ob_atms, parse_ob_branches
from backend.uploads.validation import validate_record

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "uploads"
ATMS = FIXTURES / "ob_atms.json"
BRANCHES = FIXTURES / "ob_branches.json"
REPAYMENT = ("repayment_methods", "repayment_fee", "repayment_fee_currency", "repayment_posting",
             "repayment_cutoff")


def by_id(records: list[RawRecord]) -> dict[object, RawRecord]:
    """Records by external_id."""
    return {record.fields["external_id"]: record for record in records}


@pytest.fixture(scope="module")
def atms() -> dict[object, RawRecord]:
    """The ATM fixture's records by Identification."""
    return by_id(list(parse_file(ATMS, ATMS.name)))


@pytest.fixture(scope="module")
def branches() -> dict[object, RawRecord]:
    """The Branch fixture's records by Identification."""
    return by_id(list(parse_file(BRANCHES, BRANCHES.name)))


def address(**overrides: object) -> dict[str, object]:
    """A PostalAddress in London, with overrides."""
    value: dict[str, object] = {
        "BuildingNumber": "1", "StreetName": "High Street", "TownName": "London",
        "CountrySubDivision": ["Greater London"], "Country": "GB", "PostCode": "N1 1AA",
        "GeoLocation": {"GeographicCoordinates": {"Latitude": "51.5", "Longitude": "-0.1"}},
    }
    value.update(overrides)
    return value


def atm(**overrides: object) -> dict[str, object]:
    """A well-formed v2.3 ATM, with overrides (a None override removes the key)."""
    value: dict[str, object] = {
        "Identification": "ATM-1", "ATMServices": ["CashWithdrawal"],
        "Access24HoursIndicator": True, "SupportedCurrencies": ["GBP"],
        "Location": {"Site": {"Name": "Nearbank High Street"}, "PostalAddress": address()},
    }
    value.update(overrides)
    return {key: item for key, item in value.items() if item is not None}


def day(name: str, *hours: tuple[str, str]) -> dict[str, object]:
    """An Availability Day with its opening hours."""
    return {"Name": name, "OpeningHours": [{"OpeningTime": opening, "ClosingTime": closing}
                                           for opening, closing in hours]}


def branch(**overrides: object) -> dict[str, object]:
    """A well-formed v2.3 Branch open Monday 09:00-17:00, with overrides (None removes a key)."""
    value: dict[str, object] = {
        "Identification": "BR-1", "SequenceNumber": "00", "Name": "Nearbank High Street",
        "Type": "Physical", "CustomerSegment": ["Personal"],
        "Availability": {"StandardAvailability": {"Day": [day("Monday", ("09:00", "17:00"))]}},
        "PostalAddress": address(),
    }
    value.update(overrides)
    return {key: item for key, item in value.items() if item is not None}


def document(key: str, *places: dict[str, object], brand_name: str = "Nearbank") -> bytes:
    """An Open Banking response with one brand holding the places under `key`."""
    return json.dumps({
        "meta": {"TotalResults": len(places)},
        "data": [{"Brand": [{"BrandName": brand_name, key: list(places)}]}],
    }, ensure_ascii=False).encode()


def read_atm(**overrides: object) -> RawRecord:
    """The one record of a response holding one ATM."""
    [record] = parse_ob_atms(io.BytesIO(document("ATM", atm(**overrides))))
    return record


def read_branch(**overrides: object) -> RawRecord:
    """The one record of a response holding one branch."""
    [record] = parse_ob_branches(io.BytesIO(document("Branch", branch(**overrides))))
    return record


def availability(*days: dict[str, object], exceptions: list | None = None) -> dict[str, object]:
    """An Availability object."""
    value: dict[str, object] = {"StandardAvailability": {"Day": list(days)}}
    if exceptions is not None:
        value["NonStandardAvailability"] = exceptions
    return value


# --- the fixture files -------------------------------------------------------------------------


def test_fixtures_are_detected():
    assert detect_format(ATMS.read_bytes()[:65536], ATMS.name) == "ob-atm"
    assert detect_format(BRANCHES.read_bytes()[:65536], BRANCHES.name) == "ob-branch"


def test_well_formed_atm_maps_every_field(atms):
    record = atms["NB-ATM-0001"]
    assert record.locator == "data[0].Brand[0].ATM[0]"
    assert record.warnings == []
    assert record.fields == {
        **dict.fromkeys(COLUMNS),
        "external_id": "NB-ATM-0001", "kind": "atm", "name": "Nearbank Camden Town",
        "brand": "Nearbank", "street": "197 Camden High Street", "locality": "London",
        "region": "Greater London", "postcode": "NW1 2FN", "country": "GB",
        "lat": "51.538154", "lon": "-0.141402", "timezone": "Europe/London",
        "opening_hours": "24/7",
        "services": ["CashWithdrawal", "Balance", "PINChange", "CashDeposits"],
        "accessibility": ["AudioCashMachine", "WheelchairAccess"], "repayment_methods": [],
    }


def test_well_formed_branch_maps_every_field(branches):
    record = branches["NB-BR-0001"]
    assert record.locator == "data[0].Brand[0].Branch[0]"
    assert record.warnings == []
    assert record.fields == {
        **dict.fromkeys(COLUMNS),
        "external_id": "NB-BR-0001", "kind": "branch", "name": "Nearbank Camden Town",
        "brand": "Nearbank", "street": "197 Camden High Street", "locality": "London",
        "region": "Greater London", "postcode": "NW1 2FN", "country": "GB",
        "lat": "51.538154", "lon": "-0.141402", "timezone": "Europe/London",
        "opening_hours": "Mo-Fr 09:00-17:00; Sa 09:00-12:30",
        "hours_exceptions": '2026-12-24 09:00-12:00 "Christmas Eve"; '
                            '2026-12-25..2026-12-28 off "Christmas"',
        "services": ["CounterServices", "ExternalATM", "SaturdayCounterService"],
        "accessibility": ["LevelAccess", "InductionLoop", "WheelchairAccess"],
        "repayment_methods": [], "phone": "+442079460912",
    }


def test_branch_hours_group_identical_days_and_keep_breaks(branches):
    record = branches["NB-BR-0002"]
    assert record.warnings == []
    assert record.fields["opening_hours"] == "Mo-Tu,Th-Fr 09:30-12:30,13:30-16:30; We 10:00-18:00"
    hours = parse_opening_hours(record.fields["opening_hours"])
    assert hours is not None
    assert hours.weekly[0] == (("09:30", "12:30"), ("13:30", "16:30"))
    assert hours.weekly[2] == (("10:00", "18:00"),)
    assert hours.weekly[5] == hours.weekly[6] == ()


def test_fixture_deviations_are_read_and_reported(atms, branches):
    assert atms["NB-ATM-0003"].warnings == [
        'Country "UK" is not an ISO 3166-1 code: read as GB',
        'Latitude "051.51790000" is zero-padded: read as a decimal number',
        'Longitude "-000.11920000" is zero-padded: read as a decimal number',
    ]
    padded = atms["NB-ATM-0003"].fields
    assert (padded["country"], padded["timezone"]) == ("GB", "Europe/London")
    assert (padded["lat"], padded["lon"]) == ("051.51790000", "-000.11920000")  # passed through

    unnamed = atms["NB-ATM-0004"]
    assert unnamed.fields["name"] == "Nearbank ATM, 12 Station Approach"
    assert unnamed.warnings == ['no Name: named "Nearbank ATM, 12 Station Approach"']

    assert atms["NB-ATM-0005"].warnings == [
        'Name "Nearbank ATM King\'s Cross St Pancra" is exactly 35 characters: may be truncated'
    ]
    assert atms["NB-ATM-0006"].fields["opening_hours"] is None
    assert atms["NB-ATM-0006"].warnings == [
        "Access24HoursIndicator is false and ATM files give no hours: opening hours unknown"
    ]
    assert atms["NB-ATM-0007"].warnings == ["no Access24HoursIndicator: opening hours unknown"]

    mobile = branches["NB-BR-0003"]
    assert mobile.fields["street"] == "Village Hall car park"
    assert mobile.fields["opening_hours"] == "Tu 10:00-11:30"
    assert mobile.warnings == [
        'Type "Mobile": a mobile branch whose address is a stop; the stop is kept as the '
        'street: "Village Hall car park"'
    ]
    assert branches["NB-BR-0004"].fields["opening_hours"] is None
    assert branches["NB-BR-0004"].warnings == ["no Availability: opening hours unknown"]
    assert branches["NB-BR-0005"].warnings == [
        'Country "UK" is not an ISO 3166-1 code: read as GB',
        'Latitude "051.50040000" is zero-padded: read as a decimal number',
        'Longitude "-000.19980000" is zero-padded: read as a decimal number',
        'Name "Nearbank Kensington High Street Wes" is exactly 35 characters: may be truncated',
    ]


def test_atms_sharing_a_coordinate_are_all_kept(atms):
    shared = [r for r in atms.values() if (r.fields["lat"], r.fields["lon"]) ==
              ("51.517900", "-0.082000")]
    assert sorted(r.fields["external_id"] for r in shared) == ["NB-ATM-0006", "NB-ATM-0007"]


def test_second_brand_and_other_services(atms):
    record = atms["NG-ATM-0100"]
    assert record.locator == "data[0].Brand[1].ATM[0]"
    assert record.fields["brand"] == "Northgate Bank"
    assert record.fields["services"] == ["CashWithdrawal", "Other"]
    assert record.warnings == ['OtherATMServices "Euro notes" not imported: no matching code']


def test_no_repayment_facts_and_no_source(atms, branches):
    for record in [*atms.values(), *branches.values()]:
        assert record.fields["source"] is None
        assert record.fields["repayment_methods"] == []
        assert all(record.fields[column] in (None, []) for column in REPAYMENT)
        assert set(record.fields) == set(COLUMNS)


def test_every_fixture_record_validates(atms, branches):
    for record in [*atms.values(), *branches.values()]:
        result = validate_record(record.locator, {**record.fields, "source": "ob-test"})
        assert result.errors == [], (record.locator, result.errors)


# --- times and hours ---------------------------------------------------------------------------


@pytest.mark.parametrize(("opening", "closing", "text", "warnings"), [
    ("09:00", "17:00", "Mo 09:00-17:00", []),
    ("0900", "1730", "Mo 09:00-17:30", []),
    ("09:00:00", "17:00:00.000", "Mo 09:00-17:00", []),
    ("09:00:00.000Z", "17:00:00.000+00:00", "Mo 09:00-17:00", []),
    ("9:00", "24:00:00", "Mo 09:00-24:00", []),
    ("09:00:00.000+01:00", "17:00", "Mo 09:00-17:00",
     ['OpeningTime "09:00:00.000+01:00" has a UTC offset: read as the local time 09:00']),
    ("09:00", "16:59:59", "Mo 09:00-16:59",
     ['ClosingTime "16:59:59" has seconds: read as 16:59']),
    ("22:00", "02:00", "Mo 22:00-02:00", []),
])
def test_opening_times(opening, closing, text, warnings):
    record = read_branch(Availability=availability(day("Monday", (opening, closing))))
    assert record.fields["opening_hours"] == text
    assert record.warnings == warnings


@pytest.mark.parametrize(("days", "warning"), [
    ([day("Monday", ("25:00", "26:00"))],
     "StandardAvailability: Monday: hour must be 00-24: opening hours unknown"),
    ([day("Monday", ("nine", "17:00"))],
     'StandardAvailability: Monday OpeningTime "nine" is not a time: opening hours unknown'),
    ([{"Name": "Monday", "OpeningHours": [{"OpeningTime": "09:00"}]}],
     'StandardAvailability: Monday ClosingTime "" is not a time: opening hours unknown'),
    ([day("Mon", ("09:00", "17:00"))],
     'StandardAvailability: Day Name "Mon" is not a day of the week: opening hours unknown'),
    ([day("Monday", ("09:00", "13:00"), ("12:00", "17:00"))],
     "StandardAvailability: Monday: intervals 09:00-13:00 and 12:00-17:00 overlap: "
     "opening hours unknown"),
])
def test_unreadable_hours_leave_them_unknown(days, warning):
    record = read_branch(Availability=availability(*days))
    assert record.fields["opening_hours"] is None
    assert record.warnings == [warning]


def test_a_day_listed_twice_adds_its_intervals_and_unlisted_days_are_closed():
    record = read_branch(Availability=availability(
        day("Friday", ("13:30", "16:00")), day("Friday", ("09:00", "12:30"))))
    assert record.fields["opening_hours"] == "Fr 09:00-12:30,13:30-16:00"
    assert read_branch(Availability=availability()).fields["opening_hours"] == "Mo-Su off"


def test_availability_without_standard_hours():
    record = read_branch(Availability={"NonStandardAvailability": []})
    assert record.fields["opening_hours"] is None
    assert record.warnings == [
        "Availability has no StandardAvailability Day list: opening hours unknown"
    ]


def test_non_standard_periods_become_dated_exceptions():
    record = read_branch(Availability=availability(
        day("Monday", ("09:00", "17:00")), day("Saturday", ("09:00", "12:00")),
        exceptions=[
            # Days of the week a period does not list are closed.
            {"Name": "Summer", "StartDate": "2026-08-01", "EndDate": "2026-08-04",
             "Day": [day("Saturday", ("10:00", "12:00")), day("Monday", ("10:00", "15:00"))]},
            {"Name": "Bank holiday", "StartDate": "2026-08-31", "EndDate": "2026-08-31"},
            # A later period wins for its dates.
            {"Name": "Refit", "StartDate": "2026-08-03", "EndDate": "2026-08-03"},
        ]))
    assert record.warnings == []
    assert record.fields["hours_exceptions"] == (
        '2026-08-01 10:00-12:00 "Summer"; 2026-08-02 off "Summer"; 2026-08-03 off "Refit"; '
        '2026-08-04 off "Summer"; 2026-08-31 off "Bank holiday"'
    )
    parse_opening_hours(record.fields["opening_hours"], record.fields["hours_exceptions"])


@pytest.mark.parametrize(("period", "exceptions", "warning"), [
    ({"Name": "Xmas", "EndDate": "2026-12-25"}, None,
     'NonStandardAvailability "Xmas" has no StartDate: ignored'),
    ({"Name": "Xmas", "StartDate": "25/12/2026"}, None,
     'NonStandardAvailability "Xmas" StartDate "25/12/2026" is not a date (YYYY-MM-DD): ignored'),
    ({"Name": "Xmas", "StartDate": "2026-12-25", "EndDate": "2026-13-01"}, None,
     'NonStandardAvailability "Xmas" EndDate "2026-13-01" is not a date (YYYY-MM-DD): ignored'),
    ({"Name": "Xmas", "StartDate": "2026-12-25"}, '2026-12-25 off "Xmas"',
     'NonStandardAvailability "Xmas" has no EndDate: applied to its StartDate only'),
    ({"StartDate": "2026-12-26", "EndDate": "2026-12-25"}, None,
     "NonStandardAvailability 0 ends before it starts: ignored"),
    ({"Name": "Xmas", "StartDate": "2026-12-25", "EndDate": "2026-12-25",
      "Day": [day("Friday", ("10:00", "09:00"), ("09:30", "11:00"))]}, None,
     'NonStandardAvailability "Xmas": Friday: intervals 09:30-11:00 and 10:00-09:00 overlap: '
     "ignored"),
    ({"Name": 'Boxing "Day"; shut', "StartDate": "2026-12-26", "EndDate": "2026-12-26"},
     "2026-12-26 off \"Boxing 'Day', shut\"",
     'NonStandardAvailability Name "Boxing "Day"; shut" contains " or ;: written as '
     '"Boxing \'Day\', shut"'),
])
def test_non_standard_deviations(period, exceptions, warning):
    record = read_branch(Availability=availability(day("Monday", ("09:00", "17:00")),
                                                   exceptions=[period]))
    assert record.fields["opening_hours"] == "Mo 09:00-17:00"
    assert record.fields["hours_exceptions"] == exceptions
    assert record.warnings == [warning]
    parse_opening_hours(record.fields["opening_hours"], record.fields["hours_exceptions"])


def test_a_long_period_is_capped_at_366_days():
    record = read_branch(Availability=availability(exceptions=[
        {"Name": "Closed", "StartDate": "2026-01-01", "EndDate": "2029-12-31"}]))
    assert record.warnings == [
        'NonStandardAvailability "Closed" spans 1461 days: only its first 366 are imported'
    ]
    assert record.fields["hours_exceptions"] == '2026-01-01..2027-01-01 off "Closed"'
    hours = parse_opening_hours("24/7", record.fields["hours_exceptions"])
    assert hours is not None and len(hours.exceptions) == 366


def test_exceptions_are_kept_when_weekly_hours_are_unknown():
    record = read_branch(Availability={"NonStandardAvailability": [
        {"Name": "Xmas", "StartDate": "2026-12-25", "EndDate": "2026-12-25"}]})
    assert record.fields["opening_hours"] is None
    assert record.fields["hours_exceptions"] == '2026-12-25 off "Xmas"'


@pytest.mark.parametrize(("indicator", "hours", "warning"), [
    (True, "24/7", None),
    (False, None, "Access24HoursIndicator is false and ATM files give no hours: "
                  "opening hours unknown"),
    ("yes", None, 'Access24HoursIndicator "yes" is not true or false: opening hours unknown'),
])
def test_atm_hours(indicator, hours, warning):
    record = read_atm(Access24HoursIndicator=indicator)
    assert record.fields["opening_hours"] == hours
    assert record.warnings == ([warning] if warning else [])


# --- names, addresses, contacts ----------------------------------------------------------------


def test_names():
    assert read_atm(Name="Own Name").fields["name"] == "Own Name"  # beside v2.3's Site.Name
    record = read_atm(Identification="ATM-9", Location={"PostalAddress": {"Country": "GB"}})
    assert record.fields["name"] == "ATM ATM-9"
    assert record.warnings == ['no Name: named "ATM ATM-9"']
    unnamed = read_branch(Name=None)
    assert unnamed.fields["name"] == "Nearbank branch, 1 High Street"
    assert unnamed.warnings == ['no Name: named "Nearbank branch, 1 High Street"']
    anonymous = read_branch(Name=None, Identification=None, PostalAddress={})
    assert (anonymous.fields["name"], anonymous.warnings) == (None, ["no Name"])
    assert read_branch(Name="N" * 34).warnings == []
    assert read_branch(Name="N" * 36).warnings == []


@pytest.mark.parametrize(("overrides", "street"), [
    ({}, "1 High Street"),
    ({"BuildingNumber": None}, "High Street"),
    ({"AddressLine": ["Unit 3, The Mall", "12 High Street"], "BuildingNumber": "12"},
     "Unit 3, The Mall, 12 High Street"),
    ({"AddressLine": ["Unit 3, The Mall"], "BuildingNumber": "12"},
     "Unit 3, The Mall, 12 High Street"),
    ({"AddressLine": "Kiosk 4", "StreetName": None, "BuildingNumber": None}, "Kiosk 4"),
    ({"StreetName": None, "BuildingNumber": "12"}, "12"),
    ({"StreetName": None, "BuildingNumber": None}, None),
])
def test_street(overrides, street):
    record = read_branch(PostalAddress={key: value for key, value in address(**overrides).items()
                                        if value is not None})
    assert record.fields["street"] == street


@pytest.mark.parametrize(("country", "expected", "timezone"), [
    ("GB", "GB", "Europe/London"), ("JE", "JE", "Europe/Jersey"), ("FR", "FR", None),
    (None, None, None), ("uk", "GB", "Europe/London"),
])
def test_country_and_timezone(country, expected, timezone):
    record = read_atm(Location={"PostalAddress": address(Country=country)})
    assert (record.fields["country"], record.fields["timezone"]) == (expected, timezone)


def test_numbers_for_coordinates_and_missing_geolocation():
    def located(geo: object) -> RawRecord:
        return read_atm(Location={"Site": {"Name": "ATM"},
                                  "PostalAddress": address(GeoLocation=geo)})

    record = located({"GeographicCoordinates": {"Latitude": 51.5, "Longitude": -0.1}})
    assert (record.fields["lat"], record.fields["lon"], record.warnings) == (51.5, -0.1, [])
    record = located(None)
    assert (record.fields["lat"], record.fields["lon"]) == (None, None)
    assert located({"GeographicCoordinates": {"Latitude": "0.5", "Longitude": "-0.1"}}
                   ).warnings == []


@pytest.mark.parametrize(("contacts", "phone", "warnings"), [
    ([{"ContactType": "Phone", "ContactContent": "+44-2079460912"}], "+442079460912", []),
    ([{"ContactType": "Fax", "ContactContent": "+44-2079460000"},
      {"ContactType": "Phone", "ContactContent": "+44 (20) 7946 0912"}], "+442079460912", []),
    ([{"ContactType": "Phone", "ContactContent": "020 7946 0912"}], "020 7946 0912",
     ['ContactInfo Phone "020 7946 0912" is not an international phone number: kept as given']),
    ([{"ContactType": "Email", "ContactContent": "soho@nearbank.example"}], None, []),
])
def test_phone(contacts, phone, warnings):
    record = read_branch(ContactInfo=contacts)
    assert record.fields["phone"] == phone
    assert record.warnings == warnings


def test_other_services_and_accessibility_are_reported():
    record = read_branch(
        OtherServiceAndFacility=[{"Name": "Safe deposit", "Description": "Boxes"},
                                 {"Code": "CX", "Description": "No name"}],
        OtherAccessibility=[{"Name": "Braille menus", "Description": "At the counter"}])
    assert record.warnings == [
        'OtherServiceAndFacility "Safe deposit", "CX" not imported: no matching code',
        'OtherAccessibility "Braille menus" not imported: no matching code',
    ]


# --- structure, streaming, encodings -----------------------------------------------------------


def test_brand_name_after_its_places_still_applies():
    data = json.dumps({"data": [{"Brand": [{"ATM": [atm(Identification="A"),
                                                    atm(Identification="B")],
                                            "BrandName": "Later"},
                                           {"ATM": [atm(Identification="C")]}]}]}).encode()
    records = list(parse_ob_atms(io.BytesIO(data)))
    assert [(r.fields["external_id"], r.fields["brand"], r.locator) for r in records] == [
        ("A", "Later", "data[0].Brand[0].ATM[0]"), ("B", "Later", "data[0].Brand[0].ATM[1]"),
        ("C", None, "data[0].Brand[1].ATM[0]"),
    ]


def test_branch_and_atm_parsers_read_only_their_places():
    data = json.dumps({"data": [{"Brand": [{"BrandName": "X", "ATM": [atm()],
                                            "Branch": [branch()]}]}]}).encode()
    assert [r.fields["kind"] for r in parse_ob_atms(io.BytesIO(data))] == ["atm"]
    assert [r.fields["kind"] for r in parse_ob_branches(io.BytesIO(data))] == ["branch"]


@pytest.mark.parametrize(("data", "message"), [
    (b"[]", '^not an Open Banking ATM response: expected an object with a "data" array$'),
    (b'{"meta": {}}', '^not an Open Banking ATM response: no "data" array$'),
    (b'{"data": {}}', '"data" is not an array'),
    (b'{"data": [1]}', r"^data\[0\]: not an object$"),
    (b'{"data": [{"Brand": {}}]}', r"^data\[0\]\.Brand is not an array$"),
    (b'{"data": [{"Brand": ["x"]}]}', r"^data\[0\]\.Brand\[0\]: not an object$"),
    (b'{"data": [{"Brand": [{"ATM": {}}]}]}', r"^data\[0\]\.Brand\[0\]\.ATM is not an array$"),
    (b'{"data": [{"Brand": [{"ATM": [7]}]}]}', r"^data\[0\]\.Brand\[0\]\.ATM\[0\]: not an object$"),
    (b'{"data": [\n{"Brand": [}', r"^line 2: not valid JSON"),
    (b"", "^the file is empty"),
])
def test_malformed_responses_are_refused(data, message):
    with pytest.raises(FileFormatError, match=message):
        list(parse_ob_atms(io.BytesIO(data)))


def test_places_stream_before_a_later_error():
    good = json.dumps(atm(Identification="A"))
    data = ('{"data": [{"Brand": [{"BrandName": "X", "ATM": [\n' + good + ",\n" + good
            + ",\n{oops}\n]}]}]}").encode()
    records = parse_ob_atms(io.BytesIO(data))
    assert next(records).fields["external_id"] == "A"
    assert next(records).fields["external_id"] == "A"
    with pytest.raises(FileFormatError, match="^line 4: not valid JSON"):
        next(records)


def test_encodings():
    data = document("Branch", branch(Name="Nearbank Café"))
    [record] = parse_ob_branches(io.BytesIO(b"\xef\xbb\xbf" + data))
    assert record.fields["name"] == "Nearbank Café"
    latin = data.decode().replace(", ", ",\n").encode("latin-1")
    with pytest.raises(FileFormatError, match=r"^line \d+: not UTF-8 text \(byte 0xe9\)"):
        list(parse_ob_branches(io.BytesIO(latin)))
    with pytest.raises(FileFormatError, match="UTF-16"):
        list(parse_ob_branches(io.BytesIO(data.decode().encode("utf-16"))))

