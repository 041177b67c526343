"""Real published files from four countries on three continents (tests/fixtures/real/README.md):
OpenStreetMap extracts as Overpass Turbo and ogr2ogr export them, and a CSV with its own headers
through `columns`. Each goes in nearly whole, every record accounted for."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import text

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"
TORONTO_COLUMNS = {"external_id": "ID", "name": "Name", "brand": "Brand", "lat": "Latitude",
                   "lon": "Longitude", "street": "Street", "locality": "City",
                   "postcode": "Postal_Code", "region": "Province", "opening_hours": "Hours",
                   "phone": "Phone Number"}

# file, format, country, time zone, kinds, extra form fields
FILES = [
    ("de_jena_atms_overpass_turbo.geojson", "osm-geojson", "DE", "Europe/Berlin",
     {"atm", "branch"}, {}),
    ("pt_aveiro_atms_ogr.geojson", "osm-geojson", "PT", "Europe/Lisbon", {"atm"}, {}),
    ("cu_havana_atms_overpass_turbo.geojson", "osm-geojson", "CU", "America/Havana",
     {"atm"}, {}),
    ("in_bangalore_atms_overpass_turbo.geojson", "osm-geojson", "IN", "Asia/Kolkata",
     {"atm"}, {}),
    ("se_atms_osmtogeojson.json", "osm-geojson", "SE", "Europe/Stockholm", {"atm"}, {}),
    ("ao_luanda_banks_overpass.json", "osm-overpass", "AO", "Africa/Luanda", {"branch"}, {}),
    ("mk_skopje_atms_osmconvert.csv", "osm-csv", "MK", "Europe/Skopje", {"atm"}, {}),
    ("ca_toronto_banks.csv", "mapped-csv", "CA", "America/Toronto", {"branch"},
     {"columns": json.dumps(TORONTO_COLUMNS), "defaults": json.dumps({"kind": "branch"})}),
]


@pytest.fixture
def maintainer(auth_headers):
    return auth_headers("maintainer")


@pytest.mark.parametrize(("name", "file_format", "country", "zone", "kinds", "form"), FILES,
                         ids=[f[0].split("_")[0] for f in FILES])
def test_a_real_file_goes_in_with_kind_country_zone_and_name(session, client, maintainer, name,
                                                             file_format, country, zone, kinds,
                                                             form):
    source = "real-" + name.split("_")[0]
    content = (REAL / name).read_bytes()
    response = client.post("/api/v1/uploads", headers=maintainer,
                           content_type="multipart/form-data",
                           data={"source": source, "mode": "sync", **form,
                                 "file": (io.BytesIO(content), name)})
    assert response.status_code == 201, response.json
    report = response.json
    summary = report["summary"]
    assert report["format"] == file_format
    # Every record is accounted for: created, rejected, or an earlier copy of an id.
    assert summary["create"] + summary["rejected"] + summary["duplicate"] == summary["records"]
    with_point = summary["records"]
    assert summary["create"] >= 0.95 * with_point, summary
    rejected = [i for i in report["issues"] if i["severity"] == "error"]
    assert all(i["field"] and i["message"] for i in rejected)

    report_csv = client.get(f"/api/v1/uploads/{report['id']}/report.csv",
                            headers=maintainer).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(report_csv)))
    assert len(rows) == len({r["locator"] for r in rows})
    assert sum(r["outcome"] == "rejected" for r in rows) == summary["rejected"]
    with_issues = session.execute(text(
        "SELECT count(DISTINCT i.seq) FROM upload_issues i JOIN upload_batches b "
        "ON b.id = i.batch_id WHERE b.public_id = :id AND i.seq > 0"),
        {"id": report["id"]}).scalar_one()
    assert len(rows) == with_issues
    assert all(r["external_id"] or r["outcome"] == "rejected" for r in rows)

    applied = client.post(f"/api/v1/uploads/{report['id']}/apply", headers=maintainer)
    assert applied.status_code == 200, applied.json
    places = session.execute(text(
        "SELECT public_id, kind, country, timezone, name, ST_Y(location::geometry) AS lat, "
        "ST_X(location::geometry) AS lon FROM places WHERE source = :s"),
        {"s": source}).mappings().all()
    assert len(places) == summary["create"]
    assert {p["country"] for p in places} == {country}
    assert {p["timezone"] for p in places} == {zone}
    assert {p["kind"] for p in places} <= kinds
    assert all(p["name"] and p["name"].strip() for p in places)

    # Found by nearby search at their own points.
    for place in places[:5]:
        nearby = client.get("/api/v1/places/nearby", query_string={
            "lat": place["lat"], "lon": place["lon"], "radius_m": 50, "limit": 100}).json
        assert str(place["public_id"]) in [f["id"] for f in nearby["features"]]


def test_real_world_hours_spellings_are_read_with_a_warning(client, maintainer):
    name = "ca_toronto_banks.csv"
    response = client.post("/api/v1/uploads", headers=maintainer,
                           content_type="multipart/form-data",
                           data={"source": "real-hours", "columns": json.dumps(TORONTO_COLUMNS),
                                 "defaults": json.dumps({"kind": "branch"}),
                                 "file": (io.BytesIO((REAL / name).read_bytes()), name)})
    report = response.json
    assert report["summary"]["rejected"] == 0
    read_as = [i["message"] for i in report["issues"] if i["field"] == "opening_hours"]
    assert "'Mo-We 09:00-18:00, Th-Fr 09:00-20:00, Sa 09:00-16:00' read as " \
           "'Mo-We 09:00-18:00; Th-Fr 09:00-20:00; Sa 09:00-16:00'" in read_as


def test_the_fixtures_readme_names_every_file():
    readme = (REAL / "README.md").read_text(encoding="utf-8")
    for path in REAL.iterdir():
        if path.name != "README.md":
            assert f"`{path.name}`" in readme, path.name
