"""OpenStreetMap extracts of banks and ATMs: GeoJSON (osmtogeojson, flat) and CSV."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from shapely.geometry import Point, shape

from backend.hours import parse_opening_hours
from backend.uploads.parsers import COLUMNS, FileFormatError, RawRecord, detect_format, parse_file
from backend.uploads.parsers.foreign import Notes
from backend.uploads.parsers.osm import (
    element_id,
    osm_opening_hours,
    parse_osm_csv,
    parse_osm_geojson,
)
from backend.uploads.validation import validate_record

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "uploads"
OSMTOGEOJSON = FIXTURES / "osm_banks.geojson"
FLAT = FIXTURES / "osm_flat.geojson"
CSV = FIXTURES / "osm_banks.csv"
STRAND = {"type": "Polygon", "coordinates": [[
    [-0.1280, 51.5140], [-0.1270, 51.5140], [-0.1270, 51.5146], [-0.1280, 51.5146],
    [-0.1280, 51.5140],
]]}


def read(path: Path) -> list[RawRecord]:
    """Every record of a fixture, its format detected."""
    return list(parse_file(path, path.name))


def osm_feature(tags: dict[str, object], geometry: object = None,
                osm_id: str = "node/1") -> dict[str, object]:
    """An osmtogeojson feature (a Point in Covent Garden unless another geometry is given)."""
    osm_type, number = osm_id.split("/")
    return {"type": "Feature", "id": osm_id,
            "properties": {"type": osm_type, "id": int(number), "tags": tags, "relations": [],
                           "meta": {}},
            "geometry": geometry or {"type": "Point", "coordinates": [-0.1246, 51.5126]}}


def read_features(*features: object) -> list[RawRecord]:
    """Records of a FeatureCollection of the given features."""
    data = json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()
    return list(parse_osm_geojson(io.BytesIO(data)))


def read_tags(**tags: object) -> RawRecord:
    """The record of one node with these tags (amenity=bank unless given)."""
    [record] = read_features(osm_feature({"amenity": "bank", "name": "Bank", **tags}))
    return record


def fill_for_validation(fields: dict[str, object]) -> dict[str, object]:
    """What the upload adds before validation: the source and the zone of a country it serves."""
    return {**fields, "source": "osm-test", "country": fields["country"] or "GB",
            "timezone": "Europe/London"}


# --- the fixture files -------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "expected"), [
    (OSMTOGEOJSON, "osm-geojson"), (FLAT, "osm-geojson"), (CSV, "osm-csv"),
])
def test_fixtures_are_detected(path, expected):
    assert detect_format(path.read_bytes()[:65536], path.name) == expected


def test_osmtogeojson_bank_maps_every_field():
    record = read(OSMTOGEOJSON)[0]
    assert record.locator == "feature 0"
    assert record.warnings == []
    assert record.fields == {
        **dict.fromkeys(COLUMNS),
        "external_id": "node/1001", "kind": "branch", "name": "Nearbank Covent Garden",
        "brand": "Nearbank", "street": "14 Long Acre", "locality": "London",
        "postcode": "WC2E 9LH", "country": "GB", "lat": 51.5126, "lon": -0.1246,
        "opening_hours": "Mo-Fr 09:00-17:00; Sa 10:00-14:00", "services": ["ExternalATM"],
        "accessibility": ["WheelchairAccess"], "repayment_methods": [],
        "phone": "+442079460001",
    }


def test_osmtogeojson_deviations_are_reported():
    records = read(OSMTOGEOJSON)
    atm = records[1]
    assert (atm.fields["kind"], atm.fields["name"], atm.fields["brand"]) == (
        "atm", "Nearbank ATM", "Nearbank")
    assert atm.fields["services"] == ["CashWithdrawal", "CashDeposits"]
    assert atm.fields["opening_hours"] == "24/7"
    assert atm.warnings == ['no name tag: named "Nearbank ATM" after its brand']

    building = records[2]
    assert building.fields["external_id"] == "way/2001"
    assert building.fields["opening_hours"] == "Mo-Fr 09:00-16:30"
    assert building.fields["accessibility"] == []
    assert shape(STRAND).contains(Point(building.fields["lon"], building.fields["lat"]))
    assert building.warnings == [
        "geometry is a Polygon, not a Point: using a point inside it",
        'opening_hours: "PH off" dropped (public and school holidays are not modelled)',
        "wheelchair=limited: no accessibility code set",
    ]

    sunrise = records[3]
    assert sunrise.fields["opening_hours"] is None
    assert sunrise.fields["brand"] == "Northgate Bank"  # the operator, when there is no brand
    assert sunrise.warnings == [
        'opening_hours "sunrise-sunset" not understood (rule 1 "sunrise-sunset": unknown day '
        '"sunrise" (use Mo Tu We Th Fr Sa Su)): hours unknown'
    ]

    exchange = records[4]
    assert exchange.fields["kind"] == "partner_outlet"
    assert exchange.warnings == []


def test_flat_properties_are_tags():
    bank, atm = read(FLAT)
    assert bank.fields["external_id"] == "node/1001"
    assert bank.fields["street"] == "14 Long Acre"
    assert bank.fields["opening_hours"] == "Mo-Fr 09:00-17:00"  # the en dash meant a hyphen
    assert bank.warnings == []
    assert atm.fields["services"] == ["CashDeposits"]  # cash_out=no
    assert atm.fields["name"] == "Nearbank plc ATM"
    assert atm.warnings == ['no name tag: named "Nearbank plc ATM" after its operator']


def test_csv_reads_like_geojson():
    rows = read(CSV)
    assert [r.locator for r in rows] == ["row 2", "row 3", "row 4", "row 5"]
    from_geojson = {r.fields["external_id"]: r for r in read(OSMTOGEOJSON)}
    for row in rows:
        feature = from_geojson[row.fields["external_id"]]
        # The CSV has no atm column: its bank lacks the ExternalATM the GeoJSON's atm=yes gives.
        for column in ("kind", "name", "street", "opening_hours", "accessibility",
                       *(("services",) if row.fields["kind"] == "atm" else ())):
            assert row.fields[column] == feature.fields[column], (row.locator, column)
    bank = rows[0].fields
    assert (bank["lat"], bank["lon"], bank["phone"]) == ("51.5126", "-0.1246", "+442079460001")
    assert rows[0].warnings == []
    assert rows[1].fields["country"] == "GB"
    assert rows[1].warnings == ['no name tag: named "Nearbank ATM" after its brand',
                                'addr:country "UK" is not an ISO 3166-1 code: read as GB']
    assert rows[2].warnings == [
        'opening_hours: "PH off" dropped (public and school holidays are not modelled)',
        "wheelchair=limited: no accessibility code set",
    ]
    assert rows[3].fields["kind"] == "partner_outlet"


def test_banks_and_atms_validate_and_the_rest_is_rejected_not_dropped():
    for record in [*read(OSMTOGEOJSON), *read(FLAT), *read(CSV)]:
        assert set(record.fields) == set(COLUMNS)
        assert record.fields["source"] is None and record.fields["timezone"] is None
        result = validate_record(record.locator, fill_for_validation(record.fields))
        if record.fields["kind"] is None:
            assert [e.field for e in result.errors] == ["kind"]
        else:
            assert result.errors == [], (record.locator, result.errors)


# --- tags --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected", "warnings"), [
    ("Mo-Fr 09:00-17:00; Sa 10:00-14:00", "Mo-Fr 09:00-17:00; Sa 10:00-14:00", []),
    ("24/7", "24/7", []),
    ("Mo-Fr 9:00-17:00", "Mo-Fr 09:00-17:00", []),
    ("Mo-Fr 08:30-12:00,13:00-17:30", "Mo-Fr 08:30-12:00,13:00-17:30", []),
    ("Mo-Fr 09:00\u201317:00", "Mo-Fr 09:00-17:00", []),
    ("Mo\u2014Sa 09:00-17:00; Su closed", "Mo-Sa 09:00-17:00; Su off", []),
    ("Mo-Fr 09:00-17:00;", "Mo-Fr 09:00-17:00", []),
    ("Mo-Fr 09:00-17:00; PH off", "Mo-Fr 09:00-17:00",
     ['opening_hours: "PH off" dropped (public and school holidays are not modelled)']),
    ("Mo-Sa 09:00-17:00; PH,SH 10:00-12:00", "Mo-Sa 09:00-17:00",
     ['opening_hours: "PH,SH 10:00-12:00" dropped (public and school holidays are not '
      "modelled)"]),
    ("PH off", None,
     ['opening_hours: "PH off" dropped (public and school holidays are not modelled)',
      'opening_hours "PH off" has no weekly hours: hours unknown']),
    ("Mo-Fr 09:00-17:00, Sa 10:00-12:00", "Mo-Fr 09:00-17:00; Sa 10:00-12:00", []),
    ("mo-su 9:30-18:00", "Mo-Su 09:30-18:00", []),
    ("Mo-Fr: 09:00-17:00", "Mo-Fr 09:00-17:00", []),
    ("Mo-Fr 09.00-17.00", "Mo-Fr 09:00-17:00",
     ['opening_hours "Mo-Fr 09.00-17.00": times with a dot read as HH:MM ("Mo-Fr '
      '09:00-17:00")']),
    ("Mo-Sa 10:00-18:00; Dec 25 off", "Mo-Sa 10:00-18:00",
     ['opening_hours: "Dec 25 off" dropped (months, dates, weeks and years are not modelled; '
      "add dated closures as hours_exceptions)"]),
    ("Dec 25 off", None,
     ['opening_hours: "Dec 25 off" dropped (months, dates, weeks and years are not modelled; '
      "add dated closures as hours_exceptions)",
      'opening_hours "Dec 25 off" has no weekly hours: hours unknown']),
    ("sunrise-sunset", None,
     ['opening_hours "sunrise-sunset" not understood (rule 1 "sunrise-sunset": unknown day '
      '"sunrise" (use Mo Tu We Th Fr Sa Su)): hours unknown']),
])
def test_opening_hours(value, expected, warnings):
    notes = Notes()
    assert osm_opening_hours(value, notes) == expected
    assert notes.items == warnings
    if expected:
        parse_opening_hours(expected)


def test_unreadable_opening_hours_are_quoted_shortened():
    notes = Notes()
    value = "Mo-Fr " + "sunrise-sunset," * 20
    assert osm_opening_hours(value, notes) is None
    [warning] = notes.items
    assert warning.startswith('opening_hours "Mo-Fr sunrise-sunset,sunrise')
    assert '…" not understood' in warning


@pytest.mark.parametrize(("raw_id", "raw_type", "expected", "warned"), [
    ("node/123", None, "node/123", False), ("way/5", "node", "way/5", False),
    ("n123", None, "node/123", False), ("W77", None, "way/77", False),
    (123, "node", "node/123", False), ("123", "relation", "relation/123", False),
    ("123", "R", "relation/123", False),
    ("123", None, "123", True), ("bank-1", None, "bank-1", True), (None, None, None, False),
])
def test_element_ids(raw_id, raw_type, expected, warned):
    notes = Notes()
    assert element_id(raw_id, raw_type, notes) == expected
    assert notes.items == ([f'id "{raw_id}" is not an OSM element id (node/123, way/123 or '
                            'relation/123): kept as given'] if warned else [])


def test_ids_in_each_place_osm_tools_put_them():
    point = {"type": "Point", "coordinates": [0.1, 51.5]}
    records = read_features(
        {"type": "Feature", "id": "way/9", "properties": {"amenity": "bank", "name": "A"},
         "geometry": point},
        {"type": "Feature", "properties": {"@id": "node/8", "amenity": "atm", "name": "B"},
         "geometry": point},
        {"type": "Feature", "properties": {"id": "relation/7", "amenity": "bank", "name": "C"},
         "geometry": point},
        {"type": "Feature", "properties": {"amenity": "bank", "name": "D"}, "geometry": point},
    )
    assert [r.fields["external_id"] for r in records] == ["way/9", "node/8", "relation/7", None]


@pytest.mark.parametrize(("tags", "name", "warning"), [
    ({"amenity": "bank", "name": "Named", "brand": "B"}, "Named", None),
    ({"amenity": "bank", "brand": "Nearbank", "operator": "Op"}, "Nearbank",
     'no name tag: named "Nearbank" after its brand'),
    ({"amenity": "atm", "operator": "Op"}, "Op ATM",
     'no name tag: named "Op ATM" after its operator'),
    ({"amenity": "atm", "name:en": "Bank of Georgia"}, "Bank of Georgia",
     'no name tag: named "Bank of Georgia" after its name:en'),
    ({"amenity": "atm"}, "ATM", 'no name, name:en, brand or operator tag: named "ATM"'),
    ({"amenity": "bureau_de_change"}, "Bureau de change",
     'no name, name:en, brand or operator tag: named "Bureau de change"'),
])
def test_names(tags, name, warning):
    [record] = read_features(osm_feature(tags))
    assert record.fields["name"] == name
    assert record.warnings == ([warning] if warning else [])


@pytest.mark.parametrize(("amenity", "kind", "warning"), [
    ("bank", "branch", None), ("atm", "atm", None),
    ("post_office", "partner_outlet", None), ("bureau_de_change", "partner_outlet", None),
    ("cafe", None, "amenity=cafe: not a bank, ATM, bureau de change or post office; kind left "
                   "empty"),
    (None, None, "no amenity tag: not a bank, ATM, bureau de change or post office; kind left "
                 "empty"),
])
def test_kinds(amenity, kind, warning):
    tags = {"name": "X", **({"amenity": amenity} if amenity else {})}
    [record] = read_features(osm_feature(tags))
    assert record.fields["kind"] == kind
    assert record.warnings == ([warning] if warning else [])


@pytest.mark.parametrize(("wheelchair", "codes", "warning"), [
    ("yes", ["WheelchairAccess"], None), ("designated", ["WheelchairAccess"], None),
    ("no", [], None), (None, [], None),
    ("limited", [], "wheelchair=limited: no accessibility code set"),
    ("ramp", [], "wheelchair=ramp not understood: ignored"),
])
def test_wheelchair(wheelchair, codes, warning):
    record = read_tags(**({"wheelchair": wheelchair} if wheelchair else {}))
    assert record.fields["accessibility"] == codes
    assert record.warnings == ([warning] if warning else [])


def test_address_phone_and_services():
    record = read_tags(**{"addr:place": "Covent Garden Piazza", "addr:housenumber": "3",
                          "addr:state": "England", "addr:city": "London",
                          "contact:phone": "+44 20 7946 0001;+44 20 7946 0002"})
    assert record.fields["street"] == "3 Covent Garden Piazza"
    assert record.fields["region"] == "England"
    assert record.fields["phone"] == "+442079460001"
    assert record.fields["services"] == []  # a bank's services are not tagged
    assert record.warnings == ["phone has several numbers: the first is kept"]
    local = read_tags(phone="020 7946 0001")
    assert local.fields["phone"] == "020 7946 0001"
    assert local.warnings == [
        'phone "020 7946 0001" is not an international phone number: kept as given'
    ]
    assert read_tags(**{"addr:housenumber": "3"}).fields["street"] is None
    assert read_tags(**{"addr:country": "IE"}).fields["country"] == "IE"


def test_numbers_as_tag_values_are_text():
    record = read_tags(**{"addr:housenumber": 12, "addr:street": "Long Acre", "cash_in": True})
    assert record.fields["street"] == "12 Long Acre"


# --- geometries --------------------------------------------------------------------------------


def test_multipolygon_and_line_give_a_point_on_them():
    multi = {"type": "MultiPolygon", "coordinates": [STRAND["coordinates"]]}
    line = {"type": "LineString", "coordinates": [[-0.1, 51.5], [-0.2, 51.6]]}
    records = read_features(osm_feature({"amenity": "bank", "name": "M"}, multi, "relation/3"),
                            osm_feature({"amenity": "atm", "name": "L"}, line, "way/4"))
    assert shape(multi).contains(Point(records[0].fields["lon"], records[0].fields["lat"]))
    assert shape(line).distance(Point(records[1].fields["lon"], records[1].fields["lat"])) < 1e-7
    assert records[0].warnings == [
        "geometry is a MultiPolygon, not a Point: using a point inside it"
    ]


@pytest.mark.parametrize("geometry", [
    {"type": "Polygon", "coordinates": [[1]]},
    {"type": "Polygon", "coordinates": []},
    {"type": "Hexagon", "coordinates": [1, 2]},
    {"type": "Polygon"},
])
def test_unreadable_geometry_gives_no_coordinates(geometry):
    [record] = read_features(osm_feature({"amenity": "bank", "name": "X"}, geometry))
    assert (record.fields["lat"], record.fields["lon"]) == (None, None)
    assert record.warnings == [
        f'geometry "{geometry["type"]}" cannot be read: no coordinates'
    ]


def test_missing_geometry_is_left_to_validation():
    feature = osm_feature({"amenity": "bank", "name": "X"})
    feature["geometry"] = None
    [record] = read_features(feature)
    assert (record.fields["lat"], record.fields["lon"], record.warnings) == (None, None, [])


# --- CSV variants and structure ----------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
@pytest.mark.parametrize(("lat", "lon"), [("Latitude", "Longitude"), ("lat", "lon"),
                                          ("@lat", "@lon"), ("LAT", "LNG")])
def test_csv_delimiters_and_coordinate_columns(delimiter, lat, lon):
    header = ["@id", lat, lon, "amenity", "name", "opening_hours"]
    row = ["node/5", "51.5", "-0.1", "atm", "Cash; and more" if delimiter != ";" else "Cash",
           "24/7"]
    data = "\r\n".join(delimiter.join(line) for line in (header, row)) + "\r\n"
    [record] = parse_osm_csv(io.BytesIO(data.encode()))
    assert (record.fields["external_id"], record.fields["lat"], record.fields["lon"]) == (
        "node/5", "51.5", "-0.1")
    assert record.fields["opening_hours"] == "24/7"
    assert record.fields["kind"] == "atm"


def test_csv_id_columns():
    data = (b"osm_id,osm_type,lat,lon,amenity,name\r\n"
            b"42,W,51.5,-0.1,bank,A\r\n"
            b"43,,51.5,-0.1,bank,B\r\n"
            b"\r\n"
            b"n44,,51.5,-0.1,bank,C\r\n")
    records = list(parse_osm_csv(io.BytesIO(data)))
    assert [(r.locator, r.fields["external_id"]) for r in records] == [
        ("row 2", "way/42"), ("row 3", "43"), ("row 5", "node/44")]
    assert records[1].warnings == [
        'id "43" is not an OSM element id (node/123, way/123 or relation/123): kept as given'
    ]


def test_csv_rows_without_tags_are_member_nodes_and_skipped():
    # osmconvert --csv (and Overpass with `>;`) writes a way's untagged nodes beside it.
    data = (b"@id,@lat,@lon,amenity,name,opening_hours\r\n"
            b"1858888741,41.9994538,21.4257466,,,\r\n"
            b"386744780,41.9921343,21.4266335,atm,Sparkasse,24/7\r\n")
    records = list(parse_osm_csv(io.BytesIO(data)))
    assert [(r.locator, r.fields["kind"], r.fields["name"]) for r in records] == [
        ("row 3", "atm", "Sparkasse")]
    # Without any tag column every row is a record, refused for what it lacks.
    [record] = parse_osm_csv(io.BytesIO(b"osm_id,osm_type,lat,lon\r\n5,node,51.5,-0.1\r\n"))
    assert record.fields["external_id"] == "node/5" and record.fields["kind"] is None


@pytest.mark.parametrize(("data", "message"), [
    (b"", "^the file is empty"),
    (b"@id,amenity,name\r\nnode/1,bank,A\r\n", "^the CSV has no coordinate columns"),
    (b"@id,lat,lon,amenity\r\nnode/1,51.5,-0.1\r\n", "^row 2: 3 fields but the header has 4$"),
    (b'@id,lat,lon,amenity\r\nnode/1,"51.5"x,-0.1,bank\r\n', "^line 2: malformed CSV"),
    (b"@id,lat,lon,name\r\nnode/1,51.5,-0.1,Caf\xe9\r\n", r"^line 2: not UTF-8 text"),
])
def test_malformed_csv_is_refused(data, message):
    with pytest.raises(FileFormatError, match=message):
        list(parse_osm_csv(io.BytesIO(data)))


def test_non_feature_collections_are_refused():
    with pytest.raises(FileFormatError, match="not a GeoJSON FeatureCollection"):
        list(parse_osm_geojson(io.BytesIO(b'{"type": "Feature", "properties": {}}')))
    with pytest.raises(FileFormatError, match="UTF-16"):
        list(parse_osm_geojson(io.BytesIO('{"type": "FeatureCollection"}'.encode("utf-16"))))
