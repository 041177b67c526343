"""Uploads from anywhere: country and time zone from the point, configurable service regions,
Overpass JSON, any CSV by column mapping."""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import text

from backend import world
from backend.uploads.parsers import parse_file
from tests.backend.test_uploads import csv_bytes, row

# Real places, well inside their countries.
STOCKHOLM = (59.3326, 18.0649)
TORONTO = (43.6487, -79.3817)
SYDNEY = (-33.8688, 151.2093)
NAIROBI = (-1.2864, 36.8172)


@pytest.fixture
def maintainer(auth_headers):
    return auth_headers("maintainer")


@pytest.fixture
def upload(client, maintainer):
    def submit(content: bytes, source="world-src", filename="places.csv", **form):
        data = {"source": source, "mode": "merge", **form,
                "file": (io.BytesIO(content), filename)}
        return client.post("/api/v1/uploads", data=data, headers=maintainer,
                           content_type="multipart/form-data")

    return submit


def issues(report, severity=None) -> list[str]:
    return [f"{i['locator']}: {i['field']}: {i['message']}" for i in report["issues"]
            if severity is None or i["severity"] == severity]


@pytest.mark.parametrize(("point", "country", "zone"), [
    (STOCKHOLM, "SE", "Europe/Stockholm"), (TORONTO, "CA", "America/Toronto"),
    (SYDNEY, "AU", "Australia/Sydney"), (NAIROBI, "KE", "Africa/Nairobi"),
    ((51.5074, -0.1278), "GB", "Europe/London"), ((1.2840, 103.8514), "SG", "Asia/Singapore"),
    ((40.7128, -74.0060), "US", "America/New_York"), ((35.6812, 139.7671), "JP", "Asia/Tokyo"),
])
def test_country_and_time_zone_of_any_point(point, country, zone):
    assert world.country_at(*point) == world.CountryMatch(country)
    assert world.timezone_at(*point) == zone


def test_a_point_just_off_the_coast_takes_the_nearest_country_with_its_distance():
    match = world.country_at(59.3040, 18.2600)  # in the water off Nacka, Stockholm
    assert match is not None and match.code == "SE"
    assert world.country_at(0.0, -30.0) is None  # mid-Atlantic


def test_distance_to_a_country_border():
    assert world.distance_to_country(*STOCKHOLM, "SE") == 0.0
    metres = world.distance_to_country(*STOCKHOLM, "NO")
    assert 300_000 < metres < 450_000
    assert world.distance_to_country(*STOCKHOLM, "ZZ") is None


def test_records_from_anywhere_take_country_and_zone_from_their_point(session, client, upload,
                                                                      maintainer):
    report = upload(csv_bytes(
        row("SE1", *map(str, STOCKHOLM), country="", timezone=""),
        row("CA1", *map(str, TORONTO), country="", timezone=""),
        row("AU1", *map(str, SYDNEY), country="AU", timezone=""),
    )).json
    assert report["summary"]["create"] == 3 and report["summary"]["rejected"] == 0
    found = issues(report, "warning")
    assert "row 2: country: not given; SE taken from the point" in found
    assert "row 3: timezone: not given; America/Toronto taken from the point" in found
    assert "row 2: lat: the point (59.332600, 18.064900) is outside every service region" \
        in found
    client.post(f"/api/v1/uploads/{report['id']}/apply", headers=maintainer)
    rows = session.execute(text(
        "SELECT external_id, country, timezone FROM places WHERE source = 'world-src' "
        "ORDER BY 1")).all()
    assert [tuple(r) for r in rows] == [("AU1", "AU", "Australia/Sydney"),
                                        ("CA1", "CA", "America/Toronto"),
                                        ("SE1", "SE", "Europe/Stockholm")]


def test_a_declared_country_or_zone_that_disagrees_with_the_point_is_a_warning(upload):
    report = upload(csv_bytes(
        row("NO?", *map(str, STOCKHOLM), country="NO", timezone="Europe/Stockholm"),
        row("TZ?", *map(str, TORONTO), country="CA", timezone="America/Vancouver"),
        row("ALIAS", *map(str, TORONTO), country="CA", timezone="America/Montreal"),
    )).json
    assert report["summary"]["create"] == 3
    found = issues(report, "warning")
    assert any(w.startswith("row 2: country: the point (59.332600, 18.064900) lies in SE, not "
                            "in the declared country NO, ") and w.endswith("km from NO's border")
               for w in found), found
    assert "row 3: timezone: America/Vancouver is given but the point (43.648700, -79.381700) " \
           "lies in America/Toronto; the given zone is used" in found
    assert not any(w.startswith("row 4: timezone") for w in found)  # an alias, same clock


def test_exactly_zero_zero_is_rejected_and_near_it_is_a_warning(upload):
    report = upload(csv_bytes(row("ZERO", lat="0", lon="0"),
                              row("NEAR", lat="0.0001", lon="0.0002"))).json
    assert report["summary"]["rejected"] == 1 and report["summary"]["create"] == 1
    errors = issues(report, "error")
    assert errors == ["row 2: lat: the point is exactly (0, 0): a missing coordinate written "
                      "as zeros; give the real coordinates"]


def test_strict_deployments_refuse_points_outside_their_regions(upload, monkeypatch):
    monkeypatch.setenv("NEARBANK_STRICT_REGIONS", "1")
    report = upload(csv_bytes(row("SE1", *map(str, STOCKHOLM), country="", timezone=""),
                              row("GB1"))).json
    assert report["summary"]["rejected"] == 1 and report["summary"]["create"] == 1
    assert "row 2: lat: the point (59.332600, 18.064900) is outside every service region" \
        in issues(report, "error")


def test_the_service_regions_are_the_deployments_file(upload, monkeypatch, tmp_path):
    regions = tmp_path / "regions.geojson"
    regions.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"country": "SE", "timezone": "Europe/Stockholm"},
        "geometry": {"type": "Polygon", "coordinates": [[[17.5, 59.0], [18.5, 59.0],
                                                         [18.5, 59.6], [17.5, 59.6],
                                                         [17.5, 59.0]]]}}]}))
    monkeypatch.setenv("NEARBANK_SERVICE_REGIONS", str(regions))
    monkeypatch.setenv("NEARBANK_STRICT_REGIONS", "yes")
    report = upload(csv_bytes(row("SE1", *map(str, STOCKHOLM), country="", timezone=""),
                              row("GB1"))).json
    assert report["summary"]["create"] == 1 and report["summary"]["rejected"] == 1
    assert any(e.startswith("row 3: lat: the point (51.510000, -0.130000) is outside every")
               for e in issues(report, "error"))


# --- Overpass JSON --------------------------------------------------------------------------

OVERPASS = {
    "version": 0.6, "generator": "Overpass API 0.7.62",
    "elements": [
        {"type": "node", "id": 1, "lat": 59.3326, "lon": 18.0649,
         "tags": {"amenity": "atm", "operator": "Swedbank", "cash_in": "yes"}},
        {"type": "way", "id": 2, "center": {"lat": 59.3300, "lon": 18.0600},
         "nodes": [10, 11], "tags": {"amenity": "bank", "name": "SEB", "atm": "yes",
                                     "opening_hours": "Mo-Fr 10:00-15:00; PH off"}},
        {"type": "node", "id": 10, "lat": 59.33, "lon": 18.06},  # a way's member: no tags
        {"type": "relation", "id": 3, "tags": {"amenity": "bank", "name": "No point"}},
        {"type": "node", "id": 4, "lat": 59.3310, "lon": 18.0610,
         "tags": {"amenity": "bureau_de_change", "name:en": "Forex"}},
    ],
}


def test_overpass_json_is_detected_and_read():
    records = list(parse_file(io.BytesIO(json.dumps(OVERPASS).encode()), "export.json"))
    assert [r.locator for r in records] == ["elements[0]", "elements[1]", "elements[3]",
                                            "elements[4]"]
    atm, bank, nowhere, forex = records
    assert (atm.fields["external_id"], atm.fields["kind"], atm.fields["name"]) == \
        ("node/1", "atm", "Swedbank ATM")
    assert atm.fields["services"] == ["CashWithdrawal", "CashDeposits"]
    assert (bank.fields["lat"], bank.fields["lon"], bank.fields["kind"]) == \
        (59.33, 18.06, "branch")
    assert bank.fields["opening_hours"] == "Mo-Fr 10:00-15:00"
    assert bank.fields["services"] == ["ExternalATM"]
    assert nowhere.fields["lat"] is None
    assert "relation without a point" in nowhere.warnings[0]
    assert (forex.fields["kind"], forex.fields["name"]) == ("partner_outlet", "Forex")


def test_overpass_upload_accounts_for_every_record(upload):
    report = upload(json.dumps(OVERPASS).encode(), filename="export.json").json
    assert report["format"] == "osm-overpass"
    assert report["summary"] == {"records": 4, "rejected": 1, "with_warnings": 4, "create": 3,
                                 "update": 0, "unchanged": 0, "decommission": 0,
                                 "duplicate": 0}
    found = issues(report)
    assert any(i.startswith("elements[1]: record: opening_hours: \"PH off\" dropped")
               for i in found)
    assert any(i.startswith("elements[3]: lat: is required") for i in found)


# --- any CSV by column mapping ---------------------------------------------------------------

PARTNER = (
    b"ID,Name,Brand,Latitude,Longitude,Street,City,Postal_Code\n"
    b"P-1,Main Street,Northbank,43.6487,-79.3817,100 King St W,Toronto,M5X 1A9\n"
    b"P-2,Harbour,Northbank,43.6400,-79.3800,1 Harbour Sq,Toronto,M5J 2G8\n"
    b"P-3,Nowhere,Northbank,north,-79.38,,,\n"
)
PARTNER_COLUMNS = {"external_id": "ID", "name": "Name", "brand": "Brand", "lat": "Latitude",
                   "lon": "Longitude", "street": "Street", "locality": "City",
                   "postcode": "Postal_Code"}


def test_a_csv_no_format_matches_gets_a_helpful_400(upload):
    response = upload(PARTNER)
    assert response.status_code == 400
    message = response.json["errors"][0]["message"]
    assert "Latitude look(s) like latitude" in message
    assert "Longitude look(s) like longitude" in message
    assert "ID look(s) like ids" in message
    assert '"lat": "Latitude"' in message and '"external_id": "ID"' in message


def test_any_csv_goes_in_through_columns_and_defaults(session, client, upload, maintainer):
    response = upload(PARTNER, columns=json.dumps(PARTNER_COLUMNS),
                      defaults=json.dumps({"kind": "branch"}))
    assert response.status_code == 201, response.json
    report = response.json
    assert report["format"] == "mapped-csv"
    assert report["summary"]["create"] == 2 and report["summary"]["rejected"] == 1
    assert any(i.startswith("row 4: lat: ") for i in issues(report, "error"))
    client.post(f"/api/v1/uploads/{report['id']}/apply", headers=maintainer)
    rows = session.execute(text(
        "SELECT external_id, kind, name, brand, street, locality, postcode, country, timezone "
        "FROM places WHERE source = 'world-src' ORDER BY 1")).all()
    assert tuple(rows[0]) == ("P-1", "branch", "Main Street", "Northbank", "100 King St W",
                              "Toronto", "M5X 1A9", "CA", "America/Toronto")
    report_csv = client.get(f"/api/v1/uploads/{report['id']}/report.csv",
                            headers=maintainer).get_data(as_text=True)
    rejected = next(r for r in csv.DictReader(io.StringIO(report_csv)) if r["locator"] == "row 4")
    assert (rejected["external_id"], rejected["name"], rejected["lat"], rejected["kind"]) == \
        ("P-3", "Nowhere", "north", "branch")


@pytest.mark.parametrize(("form", "field", "says"), [
    ({"columns": "{not json"}, "columns", "must be a JSON object"),
    ({"columns": json.dumps({"colour": "Name"})}, "columns", "unknown field(s) colour"),
    ({"columns": json.dumps({"name": "Name"}), "format": "osm-csv"}, "format", "mapped-csv"),
    ({"columns": json.dumps({"name": "Nom"})}, "file", "no header(s) name: 'Nom'"),
    ({"defaults": "[1]"}, "defaults", "must be a JSON object"),
])
def test_bad_mappings_are_refused_and_change_nothing(session, upload, form, field, says):
    before = session.execute(text("SELECT count(*) FROM upload_batches")).scalar_one()
    response = upload(PARTNER, **form)
    assert response.status_code == 400 and response.content_type == "application/problem+json"
    error = next(e for e in response.json["errors"] if e["field"] == field)
    assert says in error["message"]
    assert session.execute(text("SELECT count(*) FROM upload_batches")).scalar_one() == before


def test_the_command_line_takes_columns_and_defaults(runner, session, tmp_path):
    path = tmp_path / "partner.csv"
    path.write_bytes(PARTNER)
    result = runner.invoke(args=["uploads", "submit", str(path), "--source", "partner-cli",
                                 "--columns", json.dumps(PARTNER_COLUMNS),
                                 "--default", "kind=atm", "--apply"])
    assert result.exit_code == 0, result.output
    assert "(mapped-csv, merge)" in result.output and "create 2" in result.output
    kinds = session.execute(text(
        "SELECT DISTINCT kind FROM places WHERE source = 'partner-cli'")).scalars().all()
    assert kinds == ["atm"]
    bad = runner.invoke(args=["uploads", "submit", str(path), "--source", "partner-cli",
                              "--default", "kind"])
    assert bad.exit_code != 0 and "FIELD=VALUE" in bad.output


def test_the_documented_osm_csv_example_reads_as_the_docs_say(upload):
    content = (b"@id,@type,@lat,@lon,amenity,name,operator,opening_hours\n"
               b"4402722543,node,50.8998529,11.5944422,atm,Volksbank,,24/7\n")
    report = upload(content, filename="export.csv").json
    assert report["format"] == "osm-csv" and report["summary"]["create"] == 1
    assert report["changes"][0]["external_id"] == "node/4402722543"
    tabs = content.replace(b",", b"\t")
    assert upload(tabs, filename="export.tsv", source="tabs").json["format"] == "osm-csv"
