"""Parsers of the project's CSV and GeoJSON place format, and the consistency of the sample data."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from backend import vocab
from backend.hours import parse_opening_hours
from backend.uploads.parsers import COLUMNS, FileFormatError, RawRecord, parse_file
from backend.uploads.parsers.csv_ import parse_csv
from backend.uploads.parsers.geojson import parse_geojson

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "branches"
SAMPLE_CSV = SAMPLE_DIR / "sample.csv"
SAMPLE_GEOJSON = SAMPLE_DIR / "sample.geojson"
HEADER = ",".join(COLUMNS)


def place(**overrides: object) -> dict[str, object]:
    """A valid-looking place as CSV cell values, with overrides."""
    values: dict[str, object] = dict.fromkeys(COLUMNS, "")
    values.update(
        source="test", external_id="BR-1", kind="branch", name="Nearbank Test", lat="51.5",
        lon="-0.1", timezone="Europe/London", services="CounterServices", status="active",
    )
    values.update(overrides)
    return values


def csv_bytes(*rows: dict[str, object], header: tuple[str, ...] = COLUMNS) -> bytes:
    """A CSV document with the given header and rows, UTF-8 encoded."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return buffer.getvalue().encode("utf-8")


def geojson_bytes(*features: object) -> bytes:
    """A FeatureCollection document holding the given features."""
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def feature(properties: object, geometry: object = None) -> dict[str, object]:
    """A GeoJSON Feature (a Point at Soho unless another geometry is given)."""
    point = {"type": "Point", "coordinates": [-0.134, 51.5136]}
    return {"type": "Feature", "geometry": geometry or point, "properties": properties}


def read_csv(data: bytes) -> list[RawRecord]:
    """All records of a CSV document."""
    return list(parse_csv(io.BytesIO(data)))


def read_geojson(data: bytes) -> list[RawRecord]:
    """All records of a GeoJSON document."""
    return list(parse_geojson(io.BytesIO(data)))


@pytest.fixture(scope="module")
def sample_csv() -> list[RawRecord]:
    """The sample network read from sample.csv."""
    return list(parse_file(SAMPLE_CSV, SAMPLE_CSV.name))


@pytest.fixture(scope="module")
def sample_geojson() -> list[RawRecord]:
    """The sample network read from sample.geojson."""
    return list(parse_file(SAMPLE_GEOJSON, SAMPLE_GEOJSON.name))


def load_generator(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """data/branches/make_sample.py as a module (registered for this test only)."""
    spec = importlib.util.spec_from_file_location("make_sample", SAMPLE_DIR / "make_sample.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look themselves up
    spec.loader.exec_module(module)
    return module


# --- the sample data ---------------------------------------------------------------------------


def test_sample_csv_and_geojson_hold_the_same_records(sample_csv, sample_geojson):
    assert [r.fields["external_id"] for r in sample_csv] == [
        r.fields["external_id"] for r in sample_geojson
    ]
    for from_csv, from_geojson in zip(sample_csv, sample_geojson, strict=True):
        for column in COLUMNS:
            a, b = from_csv.fields[column], from_geojson.fields[column]
            if column in ("lat", "lon"):
                assert isinstance(a, str) and isinstance(b, float)
                assert round(float(a), 6) == round(b, 6), (from_csv.locator, column)
            else:
                assert a == b, (from_csv.locator, column)


def test_sample_header_is_exactly_the_format():
    with SAMPLE_CSV.open(encoding="utf-8", newline="") as file:
        assert file.readline() == HEADER + "\r\n"


def test_sample_is_reproducible(tmp_path, monkeypatch):
    load_generator(monkeypatch).write_sample(tmp_path)
    assert (tmp_path / "sample.csv").read_bytes() == SAMPLE_CSV.read_bytes()
    assert (tmp_path / "sample.geojson").read_bytes() == SAMPLE_GEOJSON.read_bytes()


def test_sample_size_cities_and_kind_mix(sample_csv):
    assert len(sample_csv) >= 360
    assert {(r.fields["timezone"], r.fields["country"]) for r in sample_csv} == {
        ("Europe/London", "GB"), ("Asia/Singapore", "SG"), ("Asia/Hong_Kong", "HK"),
    }
    currencies = {r.fields["country"]: r.fields["repayment_fee_currency"] for r in sample_csv
                  if r.fields["repayment_fee_currency"]}
    assert currencies == {"GB": "GBP", "SG": "SGD", "HK": "HKD"}
    for timezone in ("Europe/London", "Asia/Singapore", "Asia/Hong_Kong"):
        kinds = Counter(r.fields["kind"] for r in sample_csv if r.fields["timezone"] == timezone)
        total = sum(kinds.values())
        assert total >= 100
        assert 0.15 <= kinds["branch"] / total <= 0.25
        assert 0.50 <= kinds["atm"] / total <= 0.60
        assert 0.20 <= kinds["partner_outlet"] / total <= 0.30
        atms = [r for r in sample_csv if r.fields["timezone"] == timezone
                and r.fields["kind"] == "atm"]
        deposit = sum("CashDeposits" in r.fields["services"] for r in atms)
        assert 0.4 <= deposit / len(atms) <= 0.6


def test_sample_uses_every_vocabulary_code_and_no_other(sample_csv):
    def used(column: str) -> set[object]:
        values: set[object] = set()
        for record in sample_csv:
            value = record.fields[column]
            values.update(value if isinstance(value, list) else [value])
        return values - {None}

    assert used("kind") == set(vocab.PLACE_KINDS)
    assert used("status") == set(vocab.PLACE_STATUSES)
    assert used("services") == set(vocab.SERVICES)
    assert used("accessibility") == set(vocab.ACCESSIBILITY)
    assert used("repayment_methods") == set(vocab.REPAYMENT_METHODS)
    assert used("repayment_posting") == set(vocab.REPAYMENT_POSTING)


def test_sample_ids_are_unique(sample_csv):
    keys = Counter((r.fields["source"], r.fields["external_id"]) for r in sample_csv)
    assert [key for key, count in keys.items() if count > 1] == []
    assert len({r.fields["name"] for r in sample_csv}) == len(sample_csv)


def test_sample_repayment_facts_are_consistent(sample_csv):
    repayment = ("repayment_fee", "repayment_fee_currency", "repayment_posting", "repayment_cutoff")
    for record in sample_csv:
        fields = record.fields
        if fields["repayment_methods"]:
            assert all(fields[column] is not None for column in repayment), record.locator
        else:
            assert all(fields[column] is None for column in repayment), record.locator
        if fields["kind"] == "partner_outlet":
            assert "PartnerTillRepayment" in fields["services"], record.locator
        if fields["kind"] == "atm" and "CashDeposits" not in fields["services"]:
            assert fields["repayment_methods"] == [], record.locator


def test_sample_hours_and_addresses_are_well_formed(sample_csv):
    for record in sample_csv:
        fields = record.fields
        parse_opening_hours(fields["opening_hours"], fields["hours_exceptions"])
        postcode = fields["postcode"]
        if fields["country"] == "SG":
            assert isinstance(postcode, str) and postcode.isdigit() and len(postcode) == 6
        elif fields["country"] == "HK":
            assert postcode is None
        phone = fields["phone"]
        assert phone is None or (phone.startswith("+") and phone[1:].isdigit())
    assert sum(r.fields["opening_hours"] is None for r in sample_csv) >= 3


# --- encodings and binary input ----------------------------------------------------------------


def test_utf8_bom_is_accepted():
    data = csv_bytes(place(name="Nearbank Café"))
    records = read_csv(b"\xef\xbb\xbf" + data)
    assert records[0].fields["source"] == "test"
    assert records[0].fields["name"] == "Nearbank Café"
    geojson = read_geojson(b"\xef\xbb\xbf" + geojson_bytes(feature({"source": "test"})))
    assert geojson[0].fields["source"] == "test"


@pytest.mark.parametrize("read", [read_csv, read_geojson])
def test_latin1_is_refused_naming_the_line(read):
    first_line = HEADER if read is read_csv else '{"type": "FeatureCollection",'
    data = (first_line + '\r\n"features": ["Nearbank Café"]}\r\n').encode("latin-1")
    with pytest.raises(FileFormatError, match=r"^line 2: not UTF-8 text \(byte 0xe9\)") as error:
        read(data)
    assert "\n" not in str(error.value) and "Traceback" not in str(error.value)


@pytest.mark.parametrize("data", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10",
    HEADER.encode() + b"\r\nnearbank\x00sample,1\r\n",
    b"\xff\xfes\x00o\x00u\x00r\x00c\x00e\x00",
])
@pytest.mark.parametrize("read", [read_csv, read_geojson])
def test_binary_and_nul_bytes_are_refused(read, data):
    with pytest.raises(FileFormatError) as error:
        read(data)
    message = str(error.value)
    assert any(reason in message for reason in ("not UTF-8", "NUL byte", "UTF-16"))
    assert "\n" not in message


def test_csv_is_streamed_row_by_row():
    data = csv_bytes(place(external_id="A"), place(external_id="B")) + b"\xe9\r\n"
    records = parse_csv(io.BytesIO(data))
    assert next(records).fields["external_id"] == "A"
    assert next(records).fields["external_id"] == "B"
    with pytest.raises(FileFormatError, match="^line 4: "):
        next(records)


# --- CSV structure -----------------------------------------------------------------------------


def test_missing_header_columns_are_named():
    header = tuple(c for c in COLUMNS if c not in ("lat", "phone")) + ("latitude",)
    with pytest.raises(FileFormatError) as error:
        read_csv(csv_bytes(place(), header=header))
    assert str(error.value) == (
        "the CSV header is missing column(s): lat, phone (unexpected: latitude)"
    )


def test_header_may_be_reordered_and_extra_columns_are_ignored():
    header = tuple(reversed(COLUMNS)) + ("notes",)
    [record] = read_csv(csv_bytes(place(notes="x", name="Reordered"), header=header))
    assert record.fields["name"] == "Reordered"
    assert set(record.fields) == set(COLUMNS)


def test_repeated_and_empty_headers_are_refused():
    with pytest.raises(FileFormatError, match="repeats column.*: name"):
        read_csv(csv_bytes(header=COLUMNS + ("name",)))
    with pytest.raises(FileFormatError, match="empty"):
        read_csv(b"\r\n  \r\n")


def test_row_with_wrong_number_of_fields_is_refused():
    data = csv_bytes(place()) + b"test,BR-2,branch,Nearbank,Unquoted, Street\r\n"
    with pytest.raises(FileFormatError, match=r"^row 3: 6 fields but the header has 25"):
        read_csv(data)


def test_broken_quoting_is_refused():
    data = HEADER.encode() + b'\r\ntest,"BR-1"x' + b",a" * 23 + b"\r\n"
    with pytest.raises(FileFormatError, match="^line 2: malformed CSV"):
        read_csv(data)


def test_csv_locators_count_physical_lines():
    data = (
        HEADER.encode() + b"\r\n"
        + csv_bytes(place(external_id="A")).split(b"\r\n", 1)[1]
        + b"\r\n"  # a blank line is skipped but counted
        + csv_bytes(place(external_id="B", street="Flat 2\r\n10 Dean Street")).split(b"\r\n", 1)[1]
        + csv_bytes(place(external_id="C")).split(b"\r\n", 1)[1]
    )
    records = read_csv(data)
    assert [(r.locator, r.fields["external_id"]) for r in records] == [
        ("row 2", "A"), ("row 4", "B"), ("row 6", "C"),
    ]
    assert records[1].fields["street"] == "Flat 2\r\n10 Dean Street"


def test_csv_values_are_stripped_split_and_emptied():
    [record] = read_csv(csv_bytes(place(
        name="  Nearbank Soho ", brand="   ", phone="", lat=" abc ", lon="",
        services="CashWithdrawal; Balance;;", accessibility="", repayment_methods=" cash ",
    )))
    fields = record.fields
    assert fields["name"] == "Nearbank Soho"
    assert fields["brand"] is None and fields["phone"] is None
    assert fields["lat"] == "abc" and fields["lon"] is None
    assert fields["services"] == ["CashWithdrawal", "Balance"]
    assert fields["accessibility"] == []
    assert fields["repayment_methods"] == ["cash"]
    assert set(fields) == set(COLUMNS)


# --- GeoJSON structure -------------------------------------------------------------------------


def test_geojson_fields_locators_and_geometry():
    records = read_geojson(geojson_bytes(
        feature({"name": " Nearbank Soho ", "services": ["CashWithdrawal", " "], "phone": "",
                 "accessibility": None, "repayment_fee": "0.50", "lat": 1, "lon": 2}),
        feature({"name": "No point"}, {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}),
        feature(None, {"type": "Point", "coordinates": ["x", 51.5, 12.0]}),
    ))
    assert [r.locator for r in records] == ["feature 0", "feature 1", "feature 2"]
    first = records[0].fields
    assert (first["lat"], first["lon"]) == (51.5136, -0.134)
    assert first["name"] == "Nearbank Soho" and first["phone"] is None
    assert first["services"] == ["CashWithdrawal"] and first["accessibility"] == []
    assert first["repayment_fee"] == "0.50" and first["kind"] is None
    assert (records[1].fields["lat"], records[1].fields["lon"]) == (None, None)
    assert (records[2].fields["lat"], records[2].fields["lon"]) == (51.5, "x")
    assert records[2].fields["name"] is None and set(records[2].fields) == set(COLUMNS)


@pytest.mark.parametrize(("data", "message"), [
    (b'{"type": "Feature", "properties": {}}', "not a GeoJSON FeatureCollection"),
    (b"[1, 2]", "not a GeoJSON FeatureCollection"),
    (b'{"type": "FeatureCollection"}', 'no "features" array'),
    (b'{"type": "FeatureCollection", "features": [{"type": "Point"}]}',
     "^feature 0: not a GeoJSON Feature"),
    (b'{"type": "FeatureCollection",\n "features": [}', "^line 2 column 15: not valid JSON"),
    (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
     b'{"lat": NaN}}]}', "NaN"),
])
def test_malformed_geojson_is_refused(data, message):
    with pytest.raises(FileFormatError, match=message):
        read_geojson(data)


# --- choosing the parser -----------------------------------------------------------------------


def test_parse_file_chooses_by_extension(tmp_path):
    path = tmp_path / "places.JSON"
    path.write_bytes(geojson_bytes(feature({"external_id": "G-1"})))
    assert [r.fields["external_id"] for r in parse_file(path, path.name)] == ["G-1"]
    stream = io.BytesIO(csv_bytes(place(external_id="C-1")))
    assert [r.fields["external_id"] for r in parse_file(stream, "upload.csv")] == ["C-1"]
    with pytest.raises(FileFormatError, match=r"unsupported file type \('\.xlsx'\)"):
        parse_file(io.BytesIO(b""), "places.xlsx")
    with pytest.raises(FileFormatError, match="no extension"):
        parse_file(io.BytesIO(b""), "places")
