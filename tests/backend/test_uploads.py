"""The maintainers' upload workflow against a real PostGIS: dry run, apply, rollback, report."""

from __future__ import annotations

import csv
import io
import threading

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from tests.conftest import SAMPLE_CSV

PROBLEM = "application/problem+json"
HEADER = SAMPLE_CSV.read_text(encoding="utf-8-sig").splitlines()[0]
COLUMNS = HEADER.split(",")


def row(external_id: str, lat="51.5100", lon="-0.1300", **overrides) -> dict:
    """A valid London branch record in the project's CSV format."""
    values = {c: "" for c in COLUMNS}
    values.update(source="", external_id=external_id, kind="branch",
                  name=f"Branch {external_id}", country="GB", lat=lat, lon=lon,
                  timezone="Europe/London", opening_hours="Mo-Fr 09:00-17:00",
                  services="CounterServices", accessibility="LevelAccess")
    values.update(overrides)
    return values


def csv_bytes(*rows: dict) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


@pytest.fixture
def maintainer(auth_headers):
    return auth_headers("maintainer")


@pytest.fixture
def upload(client, maintainer):
    """Submit a file; returns the response."""

    def submit(content: bytes, source="test-src", mode="merge", filename="places.csv",
               headers=None, **form):
        data = {"source": source, "mode": mode, **form,
                "file": (io.BytesIO(content), filename)}
        return client.post("/api/v1/uploads", data=data, headers=headers or maintainer,
                           content_type="multipart/form-data")

    return submit


def dump(session) -> dict[str, list[str]]:
    """Every row of every table of ours, as text, sorted: a full picture of the data."""
    tables = session.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename NOT IN ('spatial_ref_sys') ORDER BY 1")).scalars().all()
    return {t: session.execute(text(f'SELECT t::text FROM "{t}" t ORDER BY 1')).scalars().all()
            for t in tables}


def places_of(session, source="test-src") -> dict[str, dict]:
    rows = session.execute(text(
        "SELECT external_id, name, status, version, ST_Y(location::geometry) AS lat, "
        "ST_X(location::geometry) AS lon, services, upload_batch_id FROM places "
        "WHERE source = :s"), {"s": source}).mappings().all()
    return {r["external_id"]: dict(r) for r in rows}


def test_dry_run_changes_nothing_visible_and_reports_the_diff(session, client, upload):
    before = places_of(session)
    response = upload(csv_bytes(row("A"), row("B", lat="51.5200")))
    assert response.status_code == 201, response.json
    report = response.json
    assert report["status"] == "pending" and report["format"]
    assert report["summary"]["records"] == 2 and report["summary"]["create"] == 2
    assert {c["external_id"] for c in report["changes"]} == {"A", "B"}
    assert places_of(session) == before == {}


def test_apply_creates_then_a_second_file_updates_with_changed_fields(session, client, upload,
                                                                      maintainer):
    first = upload(csv_bytes(row("A"), row("B"))).json
    applied = client.post(f"/api/v1/uploads/{first['id']}/apply", headers=maintainer)
    assert applied.status_code == 200 and applied.json["status"] == "applied"
    assert set(places_of(session)) == {"A", "B"}

    second = upload(csv_bytes(row("A", name="Branch A renamed"), row("B"))).json
    assert second["summary"]["update"] == 1 and second["summary"]["unchanged"] == 1
    (change,) = second["changes"]
    assert change["external_id"] == "A" and change["changed_fields"] == ["name"]
    client.post(f"/api/v1/uploads/{second['id']}/apply", headers=maintainer)
    assert places_of(session)["A"]["name"] == "Branch A renamed"
    assert places_of(session)["A"]["version"] == 2


def test_sync_decommissions_missing_places_but_not_rejected_ones(session, client, upload,
                                                                 maintainer):
    first = upload(csv_bytes(row("A"), row("B"), row("C"))).json
    client.post(f"/api/v1/uploads/{first['id']}/apply", headers=maintainer)
    merge = upload(csv_bytes(row("A"))).json
    assert merge["summary"]["decommission"] == 0
    sync = upload(csv_bytes(row("A"), row("B", lat="not a number")), mode="sync").json
    assert sync["summary"]["decommission"] == 1 and sync["summary"]["rejected"] == 1
    assert [c["external_id"] for c in sync["changes"] if c["action"] == "decommission"] == ["C"]
    client.post(f"/api/v1/uploads/{sync['id']}/apply", headers=maintainer)
    statuses = {k: v["status"] for k, v in places_of(session).items()}
    assert statuses == {"A": "active", "B": "active", "C": "decommissioned"}


def test_rollback_restores_exactly_the_prior_state(session, client, upload, maintainer):
    base = upload(csv_bytes(row("A"), row("B"), row("C"))).json
    client.post(f"/api/v1/uploads/{base['id']}/apply", headers=maintainer)
    columns = ("SELECT p.*, ST_AsText(location) AS wkt FROM places p "
               "WHERE source = 'test-src' ORDER BY external_id")

    def state():
        return [dict(r) for r in session.execute(text(columns)).mappings().all()]

    before = state()
    change = upload(csv_bytes(row("A", name="New name", services="WiFi"),
                              row("B", lat="51.6"), row("D")), mode="sync").json
    assert change["summary"] == {**change["summary"], "update": 2, "create": 1,
                                 "decommission": 1}
    client.post(f"/api/v1/uploads/{change['id']}/apply", headers=maintainer)
    assert state() != before
    rolled = client.post(f"/api/v1/uploads/{change['id']}/rollback", headers=maintainer)
    assert rolled.status_code == 200 and rolled.json["status"] == "rolled_back"
    assert state() == before
    again = client.post(f"/api/v1/uploads/{change['id']}/rollback", headers=maintainer)
    assert again.status_code == 409


def test_apply_refuses_a_stale_dry_run(session, client, upload, maintainer, make_user):
    first = upload(csv_bytes(row("A"))).json
    second = upload(csv_bytes(row("A", name="Other"))).json
    assert client.post(f"/api/v1/uploads/{first['id']}/apply",
                       headers=maintainer).status_code == 200
    stale = client.post(f"/api/v1/uploads/{second['id']}/apply", headers=maintainer)
    assert stale.status_code == 409 and stale.content_type == PROBLEM
    assert "fresh diff" in stale.json["detail"]
    twice = client.post(f"/api/v1/uploads/{first['id']}/apply", headers=maintainer)
    assert twice.status_code == 409


def test_a_manual_edit_makes_pending_dry_runs_stale_and_blocks_rollback(session, client,
                                                                        upload, maintainer):
    first = upload(csv_bytes(row("A"), row("B"))).json
    client.post(f"/api/v1/uploads/{first['id']}/apply", headers=maintainer)
    pending = upload(csv_bytes(row("A", name="Later"))).json
    place_id = session.execute(text("SELECT public_id FROM places WHERE external_id = 'A'")
                               ).scalar_one()
    edit = client.patch(f"/api/v1/places/{place_id}", json={"status": "temporarily_closed"},
                        headers=maintainer)
    assert edit.status_code == 200
    assert client.post(f"/api/v1/uploads/{pending['id']}/apply",
                       headers=maintainer).status_code == 409
    blocked = client.post(f"/api/v1/uploads/{first['id']}/rollback", headers=maintainer)
    assert blocked.status_code == 409
    assert [c["place"] for c in blocked.json["conflicts"]] == ["test-src:A"]
    history = client.get(f"/api/v1/places/{place_id}/history", headers=maintainer).json["items"]
    assert [h["action"] for h in history] == ["create", "status"]
    assert history[1]["changed_fields"] == ["status"]
    assert history[1]["before"]["status"] == "active"
    assert history[1]["after"]["status"] == "temporarily_closed"


def test_rollback_blocked_by_a_later_batch_names_the_places(session, client, upload,
                                                            maintainer):
    first = upload(csv_bytes(row("A"), row("B"))).json
    client.post(f"/api/v1/uploads/{first['id']}/apply", headers=maintainer)
    later = upload(csv_bytes(row("B", name="B again"))).json
    client.post(f"/api/v1/uploads/{later['id']}/apply", headers=maintainer)
    blocked = client.post(f"/api/v1/uploads/{first['id']}/rollback", headers=maintainer)
    assert blocked.status_code == 409
    assert [c["place"] for c in blocked.json["conflicts"]] == ["test-src:B"]
    assert client.post(f"/api/v1/uploads/{later['id']}/rollback",
                       headers=maintainer).status_code == 200
    assert client.post(f"/api/v1/uploads/{first['id']}/rollback",
                       headers=maintainer).status_code == 200
    assert places_of(session) == {}


@pytest.mark.parametrize(("content", "filename", "form", "field"), [
    ("naïve".encode("latin-1") + b"\n", "places.csv", {}, "file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "places.csv", {}, "file"),
    (b"", "places.csv", {}, "file"),
    (HEADER.encode() + b"\n", "places.csv", {}, "file"),
    (b"kind,name\nbranch,x\n", "places.csv", {}, "file"),
    (b'{"type": "Feature"}', "places.geojson", {}, "file"),
    (csv_bytes(row("A")), "places.csv", {"mode": "replace"}, "mode"),
    (csv_bytes(row("A")), "places.csv", {"source": "Bad Source!"}, "source"),
])
def test_refused_uploads_leave_every_table_exactly_as_before(session, upload, content,
                                                             filename, form, field):
    before = dump(session)
    response = upload(content, filename=filename, **form)
    assert response.status_code == 400
    assert response.content_type == PROBLEM
    assert field in [e["field"] for e in response.json["errors"]]
    assert "Traceback" not in response.get_data(as_text=True)
    assert dump(session) == before


def test_upload_with_a_utf8_bom_is_accepted(upload):
    response = upload("\ufeff".encode() + csv_bytes(row("A", name="Café Crème")))
    assert response.status_code == 201 and response.json["summary"]["create"] == 1


def test_record_errors_name_the_row_and_field(upload):
    report = upload(csv_bytes(row("A"), row("B", lat="95"), row("C", kind="castle"),
                              row("D", timezone="Mars/Olympus"))).json
    errors = {(i["locator"], i["field"]) for i in report["issues"] if i["severity"] == "error"}
    assert errors == {("row 3", "lat"), ("row 4", "kind"), ("row 5", "timezone")}
    assert report["summary"]["rejected"] == 3 and report["summary"]["create"] == 1


def _warnings(report, field=None) -> list[str]:
    return [f"{i['locator']}: {i['message']}" for i in report["issues"]
            if i["severity"] == "warning" and (field is None or i["field"] == field)]


def test_warnings_carry_their_evidence(upload):
    report = upload(csv_bytes(
        row("SWAP", lat="-0.1300", lon="51.5100"),
        row("ZERO", lat="0.0001", lon="0.0002", country="GB"),
        row("FAR", lat="48.8566", lon="2.3522"),
        row("SG", lat="1.2840", lon="103.8514"),
        row("CODES", services="CounterServices;TeleportDesk"),
        row("DUP", name="First"), row("DUP", name="Second"),
        row("NEAR1", lat="51.52000", lon="-0.10000", name="Nearbank Holborn"),
        row("NEAR2", lat="51.52005", lon="-0.10000", name="Nearbank Holborn Branch"),
        row("FARNAME", lat="51.52003", lon="-0.10000", name="QuickMart"),
    )).json
    text_ = "\n".join(_warnings(report))
    assert "row 2: probable latitude/longitude swap" in text_ and "lies in GB" in text_
    assert "row 3: the point (0.000100, 0.000200) is at or near (0, 0)" in text_
    assert "row 4: the point (48.856600, 2.352200) is outside every service region" in text_
    assert "row 5: the point (1.284000, 103.851400) lies in SG, not in the declared country GB" \
        in text_
    assert "row 6: unknown code(s) TeleportDesk kept as Other" in text_
    assert "row 7: duplicate id in this file: row 8 with the same id is used instead" in text_
    assert any(w.startswith("row 9:") and "NEAR2" in w and "similar name" in w
               for w in _warnings(report, "location"))
    assert not any("FARNAME" in w or "QuickMart" in w for w in _warnings(report, "location"))
    assert report["summary"]["duplicate"] == 1


def test_near_duplicate_of_an_existing_place_is_flagged(session, client, upload, maintainer):
    first = upload(csv_bytes(row("OLD", lat="51.5300", lon="-0.1000", name="Nearbank Angel")),
                   source="other-src").json
    client.post(f"/api/v1/uploads/{first['id']}/apply", headers=maintainer)
    report = upload(csv_bytes(row("NEW", lat="51.53004", lon="-0.1000",
                                  name="Nearbank Angel"))).json
    assert any("other-src:OLD" in w for w in _warnings(report, "location"))


def test_report_csv_lists_rejected_and_warned_records_safely(client, upload, maintainer):
    report = upload(csv_bytes(
        row("OK"),
        row("BAD", lat="north", name="=HYPERLINK(\"http://evil\")"),
        row("WARN", services="Teleport", street="@SUM(A1)", lon="-0.1300"),
    )).json
    response = client.get(f"/api/v1/uploads/{report['id']}/report.csv", headers=maintainer)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["locator"], r["outcome"]) for r in rows] == [("row 3", "rejected"),
                                                            ("row 4", "warning")]
    assert rows[0]["name"] == "'=HYPERLINK(\"http://evil\")"
    assert rows[0]["problems"].startswith("lat: not a coordinate")
    assert rows[1]["street"] == "'@SUM(A1)"
    assert rows[1]["lon"] == "-0.1300"  # a number stays a number
    assert rows[1]["external_id"] == "WARN"


@pytest.mark.parametrize("role", ["cardholder", "merchant", "reviewer"])
def test_other_roles_get_403_and_anonymous_401(client, auth_headers, upload, role):
    headers = auth_headers(role)
    assert upload(csv_bytes(row("A")), headers=headers).status_code == 403
    for path in ("/api/v1/uploads", "/api/v1/uploads/00000000-0000-0000-0000-000000000000"):
        assert client.get(path, headers=headers).status_code == 403
        assert client.get(path).status_code == 401


def test_list_and_unknown_ids(client, upload, maintainer):
    ids = [upload(csv_bytes(row(str(i)))).json["id"] for i in range(3)]
    first = client.get("/api/v1/uploads?limit=2", headers=maintainer).json
    rest = client.get(f"/api/v1/uploads?limit=2&cursor={first['next_cursor']}",
                      headers=maintainer).json
    assert [b["id"] for b in first["items"] + rest["items"]] == ids[::-1]
    for path in ("/api/v1/uploads/nope", "/api/v1/uploads/00000000-0000-0000-0000-000000000000",
                 "/api/v1/uploads/00000000-0000-0000-0000-000000000000/apply"):
        method = client.post if path.endswith("apply") else client.get
        assert method(path, headers=maintainer).status_code == 404


def test_audit_records_who_uploaded_and_applied(session, client, upload, maintainer):
    batch = upload(csv_bytes(row("A"))).json
    client.post(f"/api/v1/uploads/{batch['id']}/apply", headers=maintainer)
    actions = session.execute(text(
        "SELECT a.action, u.role FROM audit_log a JOIN users u ON u.id = a.actor_id "
        "WHERE a.object_id = :id ORDER BY a.id"), {"id": batch["id"]}).all()
    assert actions == [("upload.submit", "maintainer"), ("upload.apply", "maintainer")]
    place = session.execute(text(
        "SELECT p.last_verified_at IS NOT NULL, b.public_id::text FROM places p "
        "JOIN upload_batches b ON b.id = p.upload_batch_id WHERE p.external_id = 'A'")).one()
    assert place == (True, batch["id"])


def test_cli_submits_with_progress_and_applies(runner, session):
    result = runner.invoke(args=["uploads", "submit", str(SAMPLE_CSV), "--source",
                                 "nearbank-sample", "--mode", "sync", "--apply"])
    assert result.exit_code == 0, result.output
    assert "create 400" in result.output and "applied" in result.output
    count = session.execute(text(
        "SELECT count(*) FROM places WHERE source = 'nearbank-sample'")).scalar_one()
    assert count == 400


# Two applies racing need two real, committed transactions: a database of their own.
@pytest.fixture
def race_db(app, database_url):
    import psycopg

    from backend.config import normalise_database_url
    from backend.migrate import upgrade

    admin = database_url.replace("+psycopg", "").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS nearbank_race")
        conn.execute("CREATE DATABASE nearbank_race")
    url = normalise_database_url(database_url.rsplit("/", 1)[0] + "/nearbank_race")
    upgrade(url)
    engine = create_engine(url)
    yield engine
    engine.dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE nearbank_race WITH (FORCE)")


def test_two_concurrent_applies_cannot_both_succeed(race_db):
    from backend.errors import Conflict
    from backend.uploads import service

    batches = []
    for name in ("first", "second"):
        with Session(race_db) as s:
            batch = service.submit_upload(s, io.BytesIO(csv_bytes(row("A", name=name))),
                                          "x.csv", "race", "merge", actor_id=None, via="test")
            batches.append(batch.public_id)
    gate, outcomes = threading.Barrier(2), []

    def apply(public_id):
        with Session(race_db) as s:
            batch = service.get_batch(s, str(public_id))
            gate.wait()
            try:
                service.apply_upload(s, batch, actor_id=None, via="test")
                outcomes.append("applied")
            except Conflict:
                outcomes.append("conflict")

    threads = [threading.Thread(target=apply, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["applied", "conflict"]
    with Session(race_db) as s:
        assert s.execute(text("SELECT count(*) FROM places")).scalar_one() == 1


FIXTURES = SAMPLE_CSV.parent.parent.parent / "tests" / "fixtures" / "uploads"


@pytest.mark.parametrize(("name", "file_format", "kind"), [
    ("ob_atms.json", "ob-atm", "atm"),
    ("ob_branches.json", "ob-branch", "branch"),
    ("osm_banks.geojson", "osm-geojson", None),
    ("osm_flat.geojson", "osm-geojson", None),
    ("osm_banks.csv", "osm-csv", None),
])
def test_foreign_formats_are_detected_applied_and_reported(session, client, upload, maintainer,
                                                          name, file_format, kind):
    content = (FIXTURES / name).read_bytes()
    report = upload(content, filename=name, source="foreign").json
    assert report["format"] == file_format
    summary = report["summary"]
    assert summary["create"] > 0 and summary["records"] == summary["create"] + \
        summary["rejected"] + summary["duplicate"]
    # Every tolerated deviation is reported, never silently dropped.
    assert summary["with_warnings"] > 0
    assert client.post(f"/api/v1/uploads/{report['id']}/apply",
                       headers=maintainer).status_code == 200
    created = session.execute(text(
        "SELECT kind, country, timezone FROM places WHERE source = 'foreign'")).all()
    assert len(created) == summary["create"]
    assert all(country == "GB" and tz == "Europe/London" for _, country, tz in created)
    if kind:
        assert {k for k, _, _ in created} == {kind}
    again = upload(content, filename=name, source="foreign").json
    assert again["summary"]["unchanged"] == summary["create"]
    assert again["summary"]["create"] == again["summary"]["update"] == 0


def test_coordinates_as_people_type_them(session, upload):
    report = upload(csv_bytes(row("DMS", lat="51°30'26\"N", lon="0°7'39\"W"),
                              row("PAD", lat="051.5100000", lon="-000.1300"))).json
    assert report["summary"]["create"] == 2 and report["summary"]["rejected"] == 0
    points = session.execute(text(
        "SELECT u.external_id, ST_Y(u.location::geometry), ST_X(u.location::geometry) "
        "FROM upload_rows u JOIN upload_batches b ON b.id = u.batch_id "
        "WHERE b.public_id = :b ORDER BY u.seq"), {"b": report["id"]}).all()
    assert [(e, round(lat, 6), round(lon, 6)) for e, lat, lon in points] == [
        ("DMS", 51.507222, -0.1275), ("PAD", 51.51, -0.13)]


@pytest.fixture
def local_geocoder(app, nominatim):
    """Point the app's geocoder at the fake Nominatim for one test."""
    from tests.backend.fake_nominatim import settings

    saved = {k: app.config[k] for k in settings(nominatim.domain)}
    app.config.update(settings(nominatim.domain))
    app.extensions.pop("nearbank.geocoder", None)
    yield nominatim
    app.config.update(saved)
    app.extensions.pop("nearbank.geocoder", None)


def test_rows_without_coordinates_are_geocoded_from_their_address(upload, local_geocoder):
    from tests.backend.fake_nominatim import FOUND

    report = upload(csv_bytes(
        row("ADDR", lat="", lon="", street="10 Dean Street", postcode="W1D 3RW",
            locality="London"),
        row("NOWHERE", lat="", lon="", street="1 Nowhere Lane", locality="London"),
        row("AGAIN", lat="", lon="", street="10 Dean Street", postcode="W1D 3RW",
            locality="London"),
    )).json
    assert report["summary"]["create"] == 2 and report["summary"]["rejected"] == 1
    messages: dict[tuple, list[str]] = {}
    for issue in report["issues"]:
        messages.setdefault((issue["locator"], issue["severity"]), []).append(issue["message"])
    assert messages[("row 2", "warning")] == [
        "no coordinates: geocoded from the address '10 Dean Street, W1D 3RW, London' to "
        f"({float(FOUND['lat']):.6f}, {float(FOUND['lon']):.6f})"]
    assert any("was not found" in m for m in messages[("row 3", "error")])
    searches = [r for r in local_geocoder.requests if r.path == "/search"]
    assert len(searches) == 2  # the repeated address came from the cache


def test_geocoder_down_rejects_the_rows_that_need_it_and_nothing_else(app, upload):
    from backend.pgcluster import free_port
    from tests.backend.fake_nominatim import settings

    saved = {k: app.config[k] for k in settings("x")}
    app.config.update(settings(f"127.0.0.1:{free_port()}"))
    app.extensions.pop("nearbank.geocoder", None)
    try:
        report = upload(csv_bytes(row("OK"), row("ADDR", lat="", lon="",
                                                 street="10 Dean Street"))).json
    finally:
        app.config.update(saved)
        app.extensions.pop("nearbank.geocoder", None)
    assert report["summary"]["create"] == 1 and report["summary"]["rejected"] == 1
    assert any("could not be reached" in i["message"] for i in report["issues"])


def _geojson(props: dict) -> bytes:
    import json

    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-0.13, 51.51]},
         "properties": props}]}).encode()


_G = {"external_id": "G1", "kind": "branch", "name": "Branch G1", "country": "GB",
      "timezone": "Europe/London"}


@pytest.mark.parametrize(("content", "filename", "field"), [
    (csv_bytes(row("X" * 200)), "p.csv", "external_id"),
    (csv_bytes(row("P1", postcode="SW1A 1AA EXTRA LONG")), "p.csv", "postcode"),
    (csv_bytes(row("F1", repayment_methods="cash", repayment_fee="123456789",
                   repayment_fee_currency="GBP")), "p.csv", "repayment_fee"),
    (csv_bytes(row("F2", repayment_methods="cash", repayment_fee="1.005",
                   repayment_fee_currency="GBP")), "p.csv", "repayment_fee"),
    (_geojson({**_G, "name": "Bad\u0000name"}), "p.geojson", "name"),
    (_geojson({**_G, "country": 44}), "p.geojson", "country"),
    (_geojson({**_G, "name": {"en": "x"}}), "p.geojson", "name"),
    (_geojson({**_G, "services": [1, 2]}), "p.geojson", "services"),
])
def test_a_value_the_table_cannot_hold_rejects_the_record_not_the_upload(upload, content,
                                                                         filename, field):
    response = upload(content, filename=filename)
    assert response.status_code == 201, response.json
    assert response.json["summary"]["rejected"] == 1
    assert field in [i["field"] for i in response.json["issues"] if i["severity"] == "error"]


def test_report_csv_can_be_fixed_and_uploaded_again(session, client, upload, maintainer):
    report = upload(csv_bytes(row("B1", phone="+44 20 7946 0000", timezone="Not/AZone"))).json
    text_ = client.get(f"/api/v1/uploads/{report['id']}/report.csv",
                       headers=maintainer).get_data(as_text=True)
    assert "'+44 20 7946 0000" in text_  # safe to open in a spreadsheet
    fixed = upload(text_.replace("Not/AZone", "Europe/London").encode()).json
    assert fixed["summary"]["create"] == 1
    client.post(f"/api/v1/uploads/{fixed['id']}/apply", headers=maintainer)
    phone = session.execute(text("SELECT phone FROM places WHERE external_id = 'B1'")
                            ).scalar_one()
    assert phone == "+44 20 7946 0000"


def test_a_feed_without_statuses_keeps_a_maintainers_closure(session, client, upload,
                                                             maintainer):
    first = upload(csv_bytes(row("M1"), row("M2"))).json
    client.post(f"/api/v1/uploads/{first['id']}/apply", headers=maintainer)
    pid = session.execute(text("SELECT public_id FROM places WHERE external_id = 'M1'")
                          ).scalar_one()
    client.patch(f"/api/v1/places/{pid}", headers=maintainer,
                 json={"status": "temporarily_closed"})
    gone = upload(csv_bytes(row("M1")), mode="sync").json
    client.post(f"/api/v1/uploads/{gone['id']}/apply", headers=maintainer)
    again = upload(csv_bytes(row("M1"), row("M2"))).json
    assert again["summary"]["unchanged"] == 1 and again["summary"]["update"] == 1
    assert [c["external_id"] for c in again["changes"]] == ["M2"]  # decommissioned: back
    client.post(f"/api/v1/uploads/{again['id']}/apply", headers=maintainer)
    assert {k: v["status"] for k, v in places_of(session).items()} == {
        "M1": "temporarily_closed", "M2": "active"}
    closing = upload(csv_bytes(row("M1", status="active"))).json
    assert closing["changes"][0]["changed_fields"] == ["status"]


def test_reordered_codes_are_no_change(client, upload, maintainer):
    first = upload(csv_bytes(row("S1", services="CounterServices;WiFi"))).json
    client.post(f"/api/v1/uploads/{first['id']}/apply", headers=maintainer)
    again = upload(csv_bytes(row("S1", services="WiFi;CounterServices"))).json
    assert again["summary"]["unchanged"] == 1


def test_a_rejected_last_copy_of_an_id_leaves_the_id_alone(upload):
    report = upload(csv_bytes(row("D1", name="old"), row("D1", name="new",
                                                          timezone="Bad/Zone"))).json
    assert report["summary"]["create"] == 0 and report["summary"]["duplicate"] == 1
    assert any("later record with the same id was rejected" in i["message"]
               for i in report["issues"])


def test_a_command_line_load_blocks_rollback_and_stales_dry_runs(session, client, upload,
                                                                maintainer, tmp_path):
    from backend.uploads.loader import load_places_file

    first = upload(csv_bytes(row("L1", name="v1"))).json
    client.post(f"/api/v1/uploads/{first['id']}/apply", headers=maintainer)
    pending = upload(csv_bytes(row("L1", name="v2"))).json
    path = tmp_path / "load.csv"
    path.write_bytes(csv_bytes(row("L1", name="loaded", source="test-src")))
    assert not load_places_file(session, path).errors
    assert client.post(f"/api/v1/uploads/{pending['id']}/apply",
                       headers=maintainer).status_code == 409
    assert client.post(f"/api/v1/uploads/{first['id']}/rollback",
                       headers=maintainer).status_code == 409
    assert places_of(session)["L1"]["name"] == "loaded"


def test_a_status_change_and_an_apply_at_once_both_finish(race_db, monkeypatch):
    """Both take the source's lock before the place's: they queue, they never deadlock."""
    from backend.places import history
    from backend.places import service as places_service
    from backend.uploads import service

    with Session(race_db) as s:
        b0 = service.submit_upload(s, io.BytesIO(csv_bytes(row("A"))), "x.csv", "race",
                                   "merge", actor_id=None, via="test")
        service.apply_upload(s, b0, actor_id=None, via="test")
        place_id = str(s.execute(text("SELECT public_id FROM places")).scalar_one())
        b1 = service.submit_upload(s, io.BytesIO(csv_bytes(row("A", name="renamed"))),
                                   "x.csv", "race", "merge", actor_id=None, via="test")
        b1_id = str(b1.public_id)
    patch_started, apply_locked = threading.Event(), threading.Event()
    real = history.lock_source_version

    def patch_side(session, source):
        patch_started.set()
        apply_locked.wait(10)  # let the apply hold the source first
        return real(session, source)

    def apply_side(session, source):
        patch_started.wait(10)
        version = real(session, source)
        apply_locked.set()
        return version

    monkeypatch.setattr(places_service, "lock_source_version", patch_side)
    monkeypatch.setattr(service, "lock_source_version", apply_side)
    outcomes: dict[str, str] = {}

    def patch():
        with Session(race_db) as s:
            places_service.set_place_status(s, place_id, "temporarily_closed", None)
        outcomes["patch"] = "ok"

    def apply():
        with Session(race_db) as s:
            service.apply_upload(s, service.get_batch(s, b1_id), actor_id=None, via="t")
        outcomes["apply"] = "ok"

    threads = [threading.Thread(target=patch), threading.Thread(target=apply)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes == {"patch": "ok", "apply": "ok"}
    with Session(race_db) as s:
        assert s.execute(text("SELECT name, status FROM places")).one() == (
            "renamed", "temporarily_closed")


def test_report_csv_carries_the_record_of_duplicate_and_near_duplicate_warnings(client, upload,
                                                                                 maintainer):
    report = upload(csv_bytes(
        row("DUP", name="Nearbank First", opening_hours="Mo-Fr 09:00-17:00"),
        row("DUP", name="Nearbank Second"),
        row("NEAR1", lat="51.52000", lon="-0.10000", name="Nearbank Holborn",
            repayment_methods="cash", repayment_fee="0.00", repayment_fee_currency="GBP",
            repayment_cutoff="16:30"),
        row("NEAR2", lat="51.52005", lon="-0.10000", name="Nearbank Holborn Branch"),
    )).json
    response = client.get(f"/api/v1/uploads/{report['id']}/report.csv", headers=maintainer)
    rows = {r["locator"]: r for r in csv.DictReader(io.StringIO(response.get_data(as_text=True)))}
    duplicate = rows["row 2"]
    assert "duplicate id in this file" in duplicate["problems"]
    assert (duplicate["external_id"], duplicate["name"], duplicate["kind"]) == \
        ("DUP", "Nearbank First", "branch")
    assert duplicate["opening_hours"] == "Mo-Fr 09:00-17:00"
    assert float(duplicate["lat"]) == 51.51 and float(duplicate["lon"]) == -0.13
    near = rows["row 4"]
    assert "similar name" in near["problems"] and "NEAR2" in near["problems"]
    assert (near["external_id"], near["name"], near["country"], near["timezone"]) == \
        ("NEAR1", "Nearbank Holborn", "GB", "Europe/London")
    assert (near["repayment_methods"], near["repayment_fee"], near["repayment_cutoff"]) == \
        ("cash", "0.00", "16:30")
    # The report goes in again as it is (the leading columns are ignored).
    again = upload(response.get_data(), filename="report.csv").json
    assert again["summary"]["rejected"] == 0


def test_a_re_upload_keeps_unchanged_records_as_keys_and_still_checks_every_record(
        session, client, upload, maintainer):
    records = [
        row("NEAR1", lat="51.52000", lon="-0.10000", name="Nearbank Holborn"),
        row("NEAR2", lat="51.52005", lon="-0.10000", name="Nearbank Holborn Branch"),
        row("SAME"), row("EDIT"), row("LATER")]
    first = upload(csv_bytes(*records)).json
    client.post(f"/api/v1/uploads/{first['id']}/apply", headers=maintainer)
    again = upload(csv_bytes(
        *records[:3], row("EDIT", name="Branch EDIT renamed", services="Teleport"),
        row("LATER", timezone="Mars/Olympus"))).json
    summary = again["summary"]
    assert (summary["unchanged"], summary["update"], summary["rejected"]) == (3, 1, 1)
    # The changed record is found and checked like any other: its warning is reported.
    (change,) = again["changes"]
    assert (change["external_id"], change["changed_fields"]) == ("EDIT", ["name", "services"])
    assert any(i["locator"] == "row 5" and i["field"] == "services" for i in again["issues"])
    assert any(i["locator"] == "row 6" and i["severity"] == "error" for i in again["issues"])
    staged = dict(session.execute(text(
        "SELECT u.external_id, u.name FROM upload_rows u JOIN upload_batches b "
        "ON b.id = u.batch_id WHERE b.public_id = :b AND u.seq > 0"), {"b": again["id"]}).all())
    # An unchanged record without issues is kept as its keys; with a warning, whole.
    assert staged == {"NEAR1": "Nearbank Holborn", "NEAR2": "Nearbank Holborn Branch",
                      "SAME": None, "EDIT": "Branch EDIT renamed"}
    response = client.get(f"/api/v1/uploads/{again['id']}/report.csv", headers=maintainer)
    reported = {r["external_id"]: r for r in
                csv.DictReader(io.StringIO(response.get_data(as_text=True)))}
    assert reported["NEAR2"]["name"] == "Nearbank Holborn Branch"
    assert reported["NEAR2"]["lat"] and reported["NEAR2"]["timezone"] == "Europe/London"
    assert set(reported) == {"NEAR1", "NEAR2", "EDIT", "LATER"}
    client.post(f"/api/v1/uploads/{again['id']}/apply", headers=maintainer)
    assert places_of(session)["SAME"]["name"] == "Branch SAME"
    assert places_of(session)["EDIT"]["name"] == "Branch EDIT renamed"


def test_places_load_reports_identical_data_as_unchanged(session, tmp_path):
    from backend.uploads.loader import load_places_file

    path = tmp_path / "places.csv"
    path.write_bytes(csv_bytes(row("L1", source="load-src"), row("L2", source="load-src")))
    first = load_places_file(session, path)
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    version = session.execute(text("SELECT version FROM places WHERE external_id = 'L1'")
                              ).scalar_one()
    again = load_places_file(session, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert again.summary() == "loaded: 0 inserted, 0 updated, 2 unchanged"
    assert session.execute(text("SELECT version FROM places WHERE external_id = 'L1'")
                           ).scalar_one() == version
    path.write_bytes(csv_bytes(row("L1", source="load-src", name="Renamed"),
                                row("L2", source="load-src")))
    changed = load_places_file(session, path)
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 1)


def _staged_and_issues(session, public_id: str) -> tuple[list, list]:
    """A batch's staged rows and issues, without the ids that differ between batches."""
    staged = session.execute(text(
        "SELECT to_jsonb(u) - 'batch_id' - 'location', ST_AsBinary(u.location) "
        "FROM upload_rows u JOIN upload_batches b ON b.id = u.batch_id "
        "WHERE b.public_id = :b ORDER BY u.seq"), {"b": public_id}).all()
    issues = session.execute(text(
        "SELECT i.seq, i.locator, i.external_id, i.severity, i.field, i.message, i.raw "
        "FROM upload_issues i JOIN upload_batches b ON b.id = i.batch_id "
        "WHERE b.public_id = :b ORDER BY i.id"), {"b": public_id}).all()
    return [tuple(r) for r in staged], [tuple(r) for r in issues]


def test_records_checked_in_worker_processes_give_what_the_serial_path_gives(
        session, upload, local_geocoder, monkeypatch):
    import json

    from backend.uploads import workers

    started = []

    class CountedPool(workers.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            started.append(kwargs["max_workers"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(workers, "ProcessPoolExecutor", CountedPool)
    monkeypatch.setattr(workers, "PARALLEL_AFTER", 2)
    monkeypatch.setattr(workers, "CHUNK", 3)
    content = csv_bytes(
        row("A"), row("B", kind="bank"), row("C", services="CounterServices;Teleport"),
        row("D", timezone=""), row("E", lat="-0.1300", lon="51.5100"),
        row("A", name="Branch A again"),
        row("F", lat="", lon="", street="10 Dean Street", postcode="W1D 3RW",
            locality="London"),
        row("G", lat="51.51001"), row("H", country=""), row("I", lat="1.3521", lon="103.8198"),
        row("J", name='Caf\u00e9 \\ "Q"\ttab', repayment_methods="cash", repayment_fee="1.50",
            repayment_fee_currency="GBP", repayment_cutoff="17:30",
            last_verified_at="2026-11-01T10:00:00+05:30",
            opening_hours="Mo-Th 09:00-17:00; Fr 09:00-18:00",
            hours_exceptions='2026-12-25 off "Christmas Day"'),
        row("K", lat="51.5"), row("L", repayment_fee="2.555"))
    reports = {}
    for count in ("0", "2"):
        monkeypatch.setenv(workers.WORKERS_ENV, count)
        response = upload(content, defaults=json.dumps({"brand": "Nearbank"}))
        assert response.status_code == 201, response.json
        reports[count] = response.json
    assert started == [2]  # the serial run started no pool, the other one did
    serial, parallel = reports["0"], reports["2"]
    assert serial["summary"] == parallel["summary"]
    assert serial["summary"]["records"] == 13 and serial["summary"]["rejected"] == 2
    assert _staged_and_issues(session, serial["id"]) == \
        _staged_and_issues(session, parallel["id"])
    # The geocoded record was checked in this process, in its place in the file.
    assert any(i["locator"] == "row 8" and "geocoded" in i["message"]
               for i in parallel["issues"])


def test_a_staged_row_holds_exactly_the_record_values(session, upload):
    name = 'Caf\u00e9 \\N "quoted" back\\slash\ttab, {braces}'
    report = upload(csv_bytes(row(
        "EXACT", lat="51.123456789012345", lon="-0.000000001", name=name,
        street="1 \\\\ Street", repayment_methods="cash;debit_card", repayment_fee="0.10",
        repayment_fee_currency="GBP", repayment_cutoff="09:05",
        last_verified_at="2026-11-01T10:00:00.123456+05:30",
        services="Other;CounterServices"))).json
    assert report["summary"]["create"] == 1, report
    staged = session.execute(text(
        "SELECT u.name, u.street, ST_Y(u.location::geometry), ST_X(u.location::geometry), "
        "ST_SRID(u.location::geometry), u.services, u.repayment_methods, "
        "u.repayment_fee::text, u.repayment_cutoff::text, u.last_verified_at, "
        "u.opening_hours -> 'weekly' IS NOT NULL "
        "FROM upload_rows u JOIN upload_batches b ON b.id = u.batch_id "
        "WHERE b.public_id = :b"), {"b": report["id"]}).one()
    from datetime import datetime

    assert tuple(staged) == (
        name, "1 \\\\ Street", 51.123456789012345, -0.000000001, 4326,
        ["CounterServices", "Other"], ["cash", "debit_card"], "0.10", "09:05:00",
        datetime.fromisoformat("2026-11-01T10:00:00.123456+05:30"), True)
