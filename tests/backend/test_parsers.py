"""Parsers of the project's own formats, format detection, streaming JSON, coordinates as typed,
and the consistency of the sample data."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend import vocab
from backend.hours import parse_opening_hours
from backend.uploads.parsers import (
    COLUMNS,
    FORMATS,
    HEAD_BYTES,
    FileFormatError,
    RawRecord,
    detect_format,
    parse_file,
    parser_for,
)
from backend.uploads.parsers.coords import parse_coordinate
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
    (b'{"type": "FeatureCollection",\n "features": [}', "^line 2: not valid JSON"),
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


# --- format detection and parse_file -----------------------------------------------------------

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "uploads"


class Unseekable(io.RawIOBase):
    """A stream that cannot seek, like a socket or a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        chunk = self._data.read(min(len(buffer), 1000))
        buffer[:len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize(("path", "expected"), [
    (SAMPLE_CSV, "nearbank-csv"), (SAMPLE_GEOJSON, "nearbank-geojson"),
    (FIXTURES / "ob_atms.json", "ob-atm"), (FIXTURES / "ob_branches.json", "ob-branch"),
    (FIXTURES / "osm_banks.geojson", "osm-geojson"), (FIXTURES / "osm_flat.geojson", "osm-geojson"),
    (FIXTURES / "osm_banks.csv", "osm-csv"),
])
def test_every_format_is_detected_from_its_head(path, expected):
    assert expected in FORMATS
    data = path.read_bytes()
    assert detect_format(data[:HEAD_BYTES], path.name) == expected
    assert detect_format(b"\xef\xbb\xbf" + data[:HEAD_BYTES], path.name) == expected
    # A head cut anywhere still tells: here inside the first feature or place.
    assert detect_format(data[:2000], path.name) == expected


def test_detection_reads_what_tells_the_formats_apart():
    nearbank = geojson_bytes(feature({"external_id": "X", "kind": "atm"}))
    assert detect_format(nearbank, "x.geojson") == "nearbank-geojson"
    unknown_properties = geojson_bytes(feature({"label": "X"}))
    assert detect_format(unknown_properties, "x.geojson") == "nearbank-geojson"
    osm_by_id = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "way/1", "properties": {"name": "X"}, "geometry": None}]})
    assert detect_format(osm_by_id.encode(), "x.json") == "osm-geojson"
    osm_by_address = geojson_bytes(feature({"name": "X", "addr:street": "Long Acre"}))
    assert detect_format(osm_by_address, "x.geojson") == "osm-geojson"
    assert detect_format(b'{"type": "FeatureCollection", "features": []}', "x.json") == (
        "nearbank-geojson")
    assert detect_format(b"", "x.json") == "nearbank-geojson"  # its parser says "empty"
    assert detect_format(b"", "x.csv") == "nearbank-csv"
    assert detect_format(b"lat\tlon\tamenity\tname\r\n", "x.tsv") == "osm-csv"
    assert detect_format(b"osm_id;osm_type;Latitude;Longitude;name\r\n", "x.csv") == "osm-csv"
    # A few of our columns: ours, so its parser names the missing ones.
    assert detect_format(b"name,lat,lon,kind\r\n", "x.csv") == "nearbank-csv"


@pytest.mark.parametrize(("head", "filename", "message"), [
    (b"[1, 2]", "x.json", "^not a supported JSON format: expected a GeoJSON FeatureCollection"),
    (b'"text"', "x.json", "^not a supported JSON format"),
    (b'{"meta": {}, "rows": []}', "x.json", "^not a supported JSON format"),
    (b'{"meta": {}, "data": [{"Brand": [{"BrandName": "X", "PCA": []}]}]}', "x.json",
     '^an Open Banking response must hold "data"'),
    (b"{\n]", "x.json", "^line 2: not valid JSON"),
    (b"name,lat,lon\r\nA,1,2\r\n", "x.csv", "^the CSV header matches no supported format"),
    (b'{"type": "FeatureCollection"}', "x.csv", "^the file is named .csv but holds JSON"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "x.csv", "^line 1: not UTF-8 text"),
    (b'{"name": "Caf\xe9"}', "x.json", r"^line 1: not UTF-8 text \(byte 0xe9\)"),
    (b"a,b\r\nc\x00d\r\n", "x.csv", "^line 2: contains a NUL byte"),
    ('{"type": "FeatureCollection"}'.encode("utf-16"), "x.json", "UTF-16"),
    (b"", "x.xlsx", r"^unsupported file type \('\.xlsx'\)"),
])
def test_undetectable_files_are_refused_in_one_line(head, filename, message):
    with pytest.raises(FileFormatError, match=message) as error:
        detect_format(head, filename)
    assert "\n" not in str(error.value)


def test_a_head_cut_inside_a_character_is_not_an_encoding_error():
    data = json.dumps({"type": "FeatureCollection", "features": [
        feature({"external_id": "X", "name": "Café " * 20000})]}, ensure_ascii=False).encode()
    cut = data.index("é".encode()) + 1
    assert detect_format(data[:cut], "x.geojson") == "nearbank-geojson"


def test_parse_file_with_a_format_skips_detection(tmp_path):
    path = tmp_path / "export.txt"  # no usable extension: the format is named
    path.write_bytes((FIXTURES / "ob_atms.json").read_bytes())
    assert len(list(parse_file(path, path.name, "ob-atm"))) == 8
    stream = io.BytesIO((FIXTURES / "osm_banks.csv").read_bytes())
    assert [r.fields["external_id"] for r in parse_file(stream, "upload", "osm-csv")][0] == (
        "node/1001")
    with pytest.raises(FileFormatError, match="^unknown format 'kml': use one of nearbank-csv"):
        parse_file(io.BytesIO(b""), "x.kml", "kml")


def test_parse_file_detects_and_replays_the_head():
    data = (FIXTURES / "ob_branches.json").read_bytes()
    seekable = io.BytesIO(b"ignored" + data)
    seekable.seek(len(b"ignored"))
    from_seekable = [r.fields for r in parse_file(seekable, "branches.json")]
    from_pipe = [r.fields for r in parse_file(io.BufferedReader(Unseekable(data)), "b.json")]
    assert len(from_seekable) == 5 and from_seekable == from_pipe
    big = csv_bytes(*(place(external_id=f"C-{n}") for n in range(3000)))
    assert len(big) > HEAD_BYTES
    records = list(parse_file(io.BufferedReader(Unseekable(big)), "big.csv"))
    assert [r.fields["external_id"] for r in records] == [f"C-{n}" for n in range(3000)]


def test_parser_for_still_gives_our_own_formats():
    assert parser_for("x.csv") is parse_csv
    assert parser_for("x.GEOJSON") is parse_geojson


def test_records_have_no_warnings_unless_a_parser_adds_them(sample_csv):
    assert RawRecord("row 2", {}).warnings == []
    assert all(record.warnings == [] for record in sample_csv)


# --- streaming JSON ----------------------------------------------------------------------------


def test_geojson_is_streamed_feature_by_feature():
    one = json.dumps(feature({"external_id": "A"})).encode() + b",\n"
    count = HEAD_BYTES // len(one) + 1  # a bad byte past the head checked up front
    data = b'{"type": "FeatureCollection", "features": [\n' + one * count + b"\xe9]}"
    records = parse_geojson(io.BytesIO(data))
    for _ in range(count):
        assert next(records).fields["external_id"] == "A"
    with pytest.raises(FileFormatError, match=rf"^line {count + 2}: not UTF-8 text"):
        next(records)


def test_binary_is_refused_before_any_record():
    one = json.dumps(feature({"external_id": "A"})).encode() + b",\n"
    data = b'{"type": "FeatureCollection", "features": [\n' + one * 5 + b"\x00]}"
    records = parse_geojson(io.BytesIO(data))
    with pytest.raises(FileFormatError, match="^line 7: contains a NUL byte"):
        next(records)


def test_geojson_keys_in_any_order():
    features = [feature({"external_id": "A"})]
    data = json.dumps({"features": features, "bbox": [0, 0, 1, 1],
                       "type": "FeatureCollection"}).encode()
    assert [r.fields["external_id"] for r in read_geojson(data)] == ["A"]
    untyped = json.dumps({"features": features}).encode()
    with pytest.raises(FileFormatError, match="not a GeoJSON FeatureCollection"):
        read_geojson(untyped)


@pytest.mark.parametrize(("data", "message"), [
    (b'{"type": "FeatureCollection", "features": [', "^line 1: the JSON document ends too early"),
    (b'{"type": "FeatureCollection", "features": []}\n\nx', "^line 3: not valid JSON"),
    (b'{"type": "FeatureCollection",\n"features": [], "x": Infinity}',
     "^line 2: not valid JSON: Infinity is not allowed as a number$"),
    (b'{"type": "FeatureCollection",\n"features": [], "x": "NaN", "y": z}',
     "^line 2: not valid JSON \\(invalid char in json text, near '.*\"y\": z}'\\)$"),
    (b"  \r\n  ", "^the file is empty: expected a JSON document$"),
    (b'{"type": "FeatureCollection", "features": 7}', 'no "features" array'),
])
def test_json_errors_say_where(data, message):
    with pytest.raises(FileFormatError, match=message):
        read_geojson(data)


# --- coordinates as people type them -----------------------------------------------------------


@pytest.mark.parametrize(("value", "axis", "expected"), [
    (51.5074, "lat", 51.5074), (-0.1278, "lon", -0.1278), (7, "lon", 7.0),
    (Decimal("51.5"), "lat", 51.5),
    ("51.5074", "lat", 51.5074), (" -0.1278 ", "lon", -0.1278), ("+51.5", "lat", 51.5),
    ("052.24343500", "lat", 52.243435), ("-000.1234", "lon", -0.1234), ("\u22120.5", "lon", -0.5),
    ("5.15e1", "lat", 51.5),
    ("51°30'26\"N", "lat", 51 + 30 / 60 + 26 / 3600),
    ("0°7'39\"W", "lon", -(7 / 60 + 39 / 3600)),
    ("51 30 26 N", "lat", 51 + 30 / 60 + 26 / 3600),
    ("51 30 26 S", "lat", -(51 + 30 / 60 + 26 / 3600)),
    ("51°30.5'N", "lat", 51 + 30.5 / 60),
    ("51° 30′ 26.4″ N", "lat", 51 + 30 / 60 + 26.4 / 3600),
    ("51º30’26”N", "lat", 51 + 30 / 60 + 26 / 3600),
    ("51°30'26''N", "lat", 51 + 30 / 60 + 26 / 3600),
    ("51d30m26sN", "lat", 51 + 30 / 60 + 26 / 3600),
    ("N 51.5074", "lat", 51.5074), ("51.5074 n", "lat", 51.5074), ("51.5074°", "lat", 51.5074),
    ("E 103 51", "lon", 103 + 51 / 60), ("-0 7 39", "lon", -(7 / 60 + 39 / 3600)),
    ("179°59'59.9\"E", "lon", 179 + 59 / 60 + 59.9 / 3600),
])
def test_coordinates_people_type(value, axis, expected):
    assert parse_coordinate(value, axis) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("value", "axis", "message"), [
    ("", "lat", "no coordinate given"), (None, "lon", "no coordinate given"),
    ("abc", "lat", "not a coordinate"), ("nan", "lat", "not a coordinate"),
    (True, "lat", "not a coordinate"), ([51.5], "lat", "not a coordinate"),
    ("51,5074", "lat", "decimal comma"),
    ("51 E", "lat", "has the longitude hemisphere letter E: a latitude takes N or S"),
    ("0 7 39 N", "lon", "has the latitude hemisphere letter N: a longitude takes E or W"),
    ("-51 30 N", "lat", "both a minus sign and a hemisphere letter"),
    ("N 51 S", "lat", "two hemisphere letters"),
    ("51°60'N", "lat", "minutes must be below 60"),
    ("51°30'60\"N", "lat", "seconds must be below 60"),
    ("51.5°30'N", "lat", "only the last of degrees, minutes and seconds may have decimals"),
    ("51°30.5'15\"N", "lat", "only the last"),
    ("5130", "lat", "must be between -90 and 90"),
    ("95", "lat", "looks like a longitude"), ("-180.5", "lon", "must be between -180 and 180"),
    (float("inf"), "lon", "must be a finite number"),
    ("91°N", "lat", "must be between -90 and 90"),
    ("51.5 30", "lat", "only the last"),
])
def test_not_coordinates_are_refused_without_repeating_the_value(value, axis, message):
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        parse_coordinate(value, axis)
    if isinstance(value, str) and value.strip():
        assert value.strip() not in str(error.value)


def test_axis_must_be_lat_or_lon():
    with pytest.raises(ValueError, match="axis"):
        parse_coordinate("1", "latitude")  # type: ignore[arg-type]


def dms(value: float, axis: str, style: str) -> str:
    """A coordinate written as degrees-minutes-seconds (or degrees and minutes)."""
    letters = "NS" if axis == "lat" else "EW"
    hemisphere = letters[0] if value >= 0 else letters[1]
    if style == "dm":
        minutes_total = round(abs(value) * 60, 8)
        degrees, minutes = divmod(minutes_total, 60)
        return f"{int(degrees)}°{minutes:.8f}'{hemisphere}"
    seconds_total = round(abs(value) * 3600, 6)  # carry 59.9999995 s into the next minute
    minutes_total, seconds = divmod(seconds_total, 60)
    degrees, minutes = divmod(int(minutes_total), 60)
    separator = " " if style == "spaces" else ""
    marks = ("", "", "") if style == "spaces" else ("°", "'", '"')
    return (f"{degrees}{marks[0]}{separator}{minutes}{marks[1]}{separator}"
            f"{seconds:.6f}{marks[2]} {hemisphere}")


@settings(max_examples=300)
@given(axis=st.sampled_from(["lat", "lon"]), fraction=st.floats(-1, 1),
       style=st.sampled_from(["marks", "spaces", "dm"]))
def test_dms_round_trips(axis, fraction, style):
    value = fraction * (90 if axis == "lat" else 180)
    text = dms(value, axis, style)
    assert parse_coordinate(text, axis) == pytest.approx(value, abs=1e-6), text


@given(axis=st.sampled_from(["lat", "lon"]), fraction=st.floats(-1, 1))
def test_decimal_text_round_trips_exactly(axis, fraction):
    value = fraction * (90 if axis == "lat" else 180)
    assert parse_coordinate(repr(value), axis) == value
    assert parse_coordinate(f"{value:013.8f}", axis) == pytest.approx(value, abs=1e-8)
