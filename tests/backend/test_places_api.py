"""The places API: filters, repayment points, bbox, detail, status changes, bad input."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import psycopg
import pytest

from backend.places import service
from tests.backend.factories import add_places, place_fields, public_ids_by_external_id

LONDON = {"lat": 51.5074, "lon": -0.1278}
PROBLEM = "application/problem+json"


def nearby(client, path="/api/v1/places/nearby", **params):
    response = client.get(path, query_string={**LONDON, **params})
    assert response.status_code == 200, response.json
    return response.json


def names(collection) -> list[str]:
    return [f["properties"]["name"] for f in collection["features"]]


@pytest.fixture
def mixed(session):
    """A small London network with known facts."""
    near = (51.5080, -0.1280)
    add_places(
        session,
        place_fields(*near, name="Open branch", kind="branch",
                     services=["CounterServices"], accessibility=["LevelAccess"],
                     repayment_methods=["cash", "debit_card"], repayment_fee="0.00",
                     repayment_fee_currency="GBP", repayment_posting="same_day",
                     repayment_cutoff="16:00"),
        place_fields(51.5090, -0.1280, name="Never open branch", kind="branch",
                     opening_hours="Mo-Su 00:00-00:01; Mo-Su off"),
        place_fields(51.5100, -0.1280, name="Deposit ATM", kind="atm",
                     services=["CashDeposits", "CashWithdrawal"],
                     accessibility=["LevelAccess", "AudioCashMachine"],
                     repayment_methods=["cash"], repayment_fee="0.00",
                     repayment_fee_currency="GBP", repayment_posting="instant",
                     repayment_cutoff="20:00"),
        place_fields(51.5110, -0.1280, name="Plain ATM", kind="atm",
                     services=["CashWithdrawal"]),
        place_fields(51.5120, -0.1280, name="Corner shop", kind="partner_outlet",
                     services=["PartnerTillRepayment"], repayment_methods=["cash"],
                     repayment_fee="0.50", repayment_fee_currency="GBP",
                     repayment_posting="next_business_day", repayment_cutoff="18:00"),
        place_fields(51.5130, -0.1280, name="Unknown hours outlet", kind="partner_outlet",
                     opening_hours=None),
        place_fields(51.5075, -0.1279, name="Gone branch", kind="branch",
                     status="decommissioned"),
        place_fields(51.5076, -0.1279, name="Closed for works", kind="branch",
                     status="temporarily_closed"),
        place_fields(51.60, -0.1280, name="Far away branch", kind="branch"),
    )


def test_kind_endpoints_return_only_their_kind_nearest_first(client, mixed):
    assert names(nearby(client, "/api/v1/branches/nearby")) == [
        "Closed for works", "Open branch", "Never open branch"]
    assert names(nearby(client, "/api/v1/atms/nearby")) == ["Deposit ATM", "Plain ATM"]
    assert names(nearby(client, kind="partner_outlet")) == ["Corner shop",
                                                            "Unknown hours outlet"]


def test_decommissioned_places_are_never_listed(client, mixed):
    assert "Gone branch" not in names(nearby(client, limit=100))


def test_radius_excludes_far_places_and_includes_them_when_wide(client, mixed):
    assert "Far away branch" not in names(nearby(client, "/api/v1/branches/nearby"))
    wide = nearby(client, "/api/v1/branches/nearby", radius_m=20_000)
    assert names(wide)[-1] == "Far away branch"


def test_open_now_filter_and_hours_fields(client, mixed):
    everything = {f["properties"]["name"]: f["properties"] for f in
                  nearby(client, limit=100)["features"]}
    assert everything["Open branch"]["open_now"] is True
    assert everything["Open branch"]["next_change"] is None  # 24/7
    assert everything["Never open branch"]["open_now"] is False
    assert everything["Never open branch"]["next_change"] is None  # no opening ahead
    assert everything["Unknown hours outlet"]["open_now"] is None
    assert everything["Closed for works"]["open_now"] is False
    open_names = names(nearby(client, open_now="true", limit=100))
    assert open_names == ["Open branch", "Deposit ATM", "Plain ATM", "Corner shop"]
    closed = names(nearby(client, open_now="false", limit=100))
    assert closed == ["Closed for works", "Never open branch"]


def test_services_and_accessibility_mean_all_of(client, mixed):
    assert names(nearby(client, services="CashDeposits")) == ["Deposit ATM"]
    assert names(nearby(client, services="CashDeposits,CashWithdrawal")) == ["Deposit ATM"]
    assert names(nearby(client, services="CashWithdrawal")) == ["Deposit ATM", "Plain ATM"]
    assert names(nearby(client, accessibility="LevelAccess")) == ["Open branch", "Deposit ATM"]
    assert names(nearby(client, accessibility="LevelAccess,AudioCashMachine")) == [
        "Deposit ATM"]


def test_repayment_points_say_how_fee_posting_and_cutoff(client, mixed):
    result = nearby(client, "/api/v1/repayment-points/nearby")
    assert names(result) == ["Open branch", "Deposit ATM", "Corner shop"]
    branch = result["features"][0]["properties"]["repayment"]
    assert branch["methods"] == ["cash", "debit_card"]
    assert branch["how"] == "Cash or debit card at the counter"
    assert branch["fee"] == {"amount": "0.00", "currency": "GBP"}
    assert branch["fee_free"] is True
    assert branch["posting"] == "same_day"
    cutoff = datetime.fromisoformat(branch["cutoff_today"])
    assert (cutoff.hour, cutoff.minute) == (16, 0)
    assert cutoff.utcoffset() is not None
    assert branch["cutoff_passed"] == (datetime.now(UTC) >= cutoff)
    shop = result["features"][2]["properties"]["repayment"]
    assert shop["fee_free"] is False and shop["how"] == "Cash at the till"


def test_repayment_filters(client, mixed):
    path = "/api/v1/repayment-points/nearby"
    assert names(nearby(client, path, fee_free="true")) == ["Open branch", "Deposit ATM"]
    assert names(nearby(client, path, fee_free="false")) == ["Corner shop"]
    assert names(nearby(client, path, method="debit_card")) == ["Open branch"]
    assert names(nearby(client, path, method="cash", open_now="true")) == [
        "Open branch", "Deposit ATM", "Corner shop"]


def test_cursor_pages_through_everything_once(client, mixed):
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = nearby(client, **params)
        seen += names(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names(nearby(client, limit=100))
    assert len(seen) == len(set(seen)) == 7


def test_cursor_from_other_filters_is_refused(client, mixed):
    cursor = nearby(client, limit=1)["next_cursor"]
    response = client.get("/api/v1/places/nearby",
                          query_string={**LONDON, "cursor": cursor, "kind": "atm"})
    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "cursor"


# Distinctive coordinates, so that finding them in a response means they leaked.
LAT, LON = "51.50123", "-0.13579"


@pytest.mark.parametrize(("params", "field"), [
    ({"lat": None}, "lat"),
    ({"lon": None}, "lon"),
    ({"lat": "abc"}, "lat"),
    ({"lat": "nan"}, "lat"),
    ({"lon": "inf"}, "lon"),
    ({"lat": "-infinity"}, "lat"),
    ({"lat": "90.00017"}, "lat"),
    ({"lat": "-91.2345"}, "lat"),
    ({"lon": "180.54321"}, "lon"),
    ({"lon": "-181.2345"}, "lon"),
    ({"radius_m": "0"}, "radius_m"),
    ({"radius_m": "-5"}, "radius_m"),
    ({"radius_m": "50001"}, "radius_m"),
    ({"radius_m": "1e308"}, "radius_m"),
    ({"radius_m": "nan"}, "radius_m"),
    ({"limit": "101"}, "limit"),
    ({"limit": "0"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"services": "CashDeposits,Teleport"}, "services"),
    ({"accessibility": "Ramp"}, "accessibility"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": "eyJ4IjoxfQ"}, "cursor"),
    ({"kind": "castle"}, "kind"),
    ({"open_now": "perhaps"}, "open_now"),
])
def test_bad_nearby_input_is_a_400_problem_naming_the_field(client, params, field):
    query = {k: v for k, v in {"lat": LAT, "lon": LON, **params}.items() if v is not None}
    response = client.get("/api/v1/places/nearby", query_string=query)
    assert response.status_code == 400
    assert response.content_type == PROBLEM
    body = response.json
    assert body["status"] == 400 and body["title"] and body["type"].endswith("/validation")
    assert field in [e["field"] for e in body["errors"]]
    assert all(e["message"] for e in body["errors"])
    text = response.get_data(as_text=True)
    for value in (LAT, LON, query.get("lat", LAT), query.get("lon", LON)):
        if any(ch.isdigit() for ch in value):
            assert value not in text, "the request's coordinates leaked into the error body"


def test_swapped_coordinates_get_a_hint(client):
    response = client.get("/api/v1/places/nearby", query_string={"lat": -122.4, "lon": 37.8})
    assert response.status_code == 400
    assert "swapped" in response.json["errors"][0]["message"]


def test_repayment_method_must_be_known(client):
    response = client.get("/api/v1/repayment-points/nearby",
                          query_string={**LONDON, "method": "bitcoin"})
    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "method"


def test_bbox_lists_places_inside_by_id(client, mixed):
    result = client.get("/api/v1/places", query_string={"bbox": "-0.13,51.5085,-0.12,51.5115"})
    assert result.status_code == 200
    assert names(result.json) == ["Never open branch", "Deposit ATM", "Plain ATM"]
    kinds = client.get("/api/v1/places",
                       query_string={"bbox": "-0.2,51.4,0,51.7", "kind": "atm"}).json
    assert names(kinds) == ["Deposit ATM", "Plain ATM"]


def test_bbox_pages_with_cursor(client, mixed):
    first = client.get("/api/v1/places", query_string={"bbox": "-1,51,1,52", "limit": 3}).json
    second = client.get("/api/v1/places", query_string={
        "bbox": "-1,51,1,52", "limit": 3, "cursor": first["next_cursor"]}).json
    assert len(first["features"]) == 3 and first["next_cursor"]
    assert not set(names(first)) & set(names(second))


def test_bbox_across_the_antimeridian(session, client):
    add_places(session,
               place_fields(-17.7, 179.9, name="Fiji east", country="FJ", timezone="Pacific/Fiji"),
               place_fields(-17.7, -179.9, name="Fiji west", country="FJ",
                            timezone="Pacific/Fiji"),
               place_fields(-17.7, 170.0, name="Not in box", country="FJ",
                            timezone="Pacific/Fiji"))
    result = client.get("/api/v1/places", query_string={"bbox": "179,-18,-179,-17"}).json
    assert sorted(names(result)) == ["Fiji east", "Fiji west"]


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "0,10,1,5", "0,0,200,1", "0,-95,1,1",
                                  "0,0,nan,1", "1,2,3,4,5", ""])
def test_malformed_bbox_is_a_400(client, bbox):
    response = client.get("/api/v1/places", query_string={"bbox": bbox})
    assert response.status_code == 400
    assert response.content_type == PROBLEM
    assert response.json["errors"][0]["field"] == "bbox"


def test_place_detail_has_week_and_geojson(session, client):
    add_places(session, place_fields(51.5, -0.1, name="Detail branch",
                                     opening_hours="Mo-Fr 09:00-17:00; Sa 10:00-13:00",
                                     hours_exceptions='2026-12-25 off "Christmas Day"'))
    place_id = public_ids_by_external_id(session)
    (pid,) = place_id.values()
    response = client.get(f"/api/v1/places/{pid}")
    assert response.status_code == 200
    feature = response.json
    assert feature["type"] == "Feature" and feature["geometry"]["coordinates"] == [-0.1, 51.5]
    hours = feature["properties"]["opening_hours"]
    assert hours["text"] == "Mo-Fr 09:00-17:00; Sa 10:00-13:00"
    assert len(hours["week"]) == 7
    assert [d["today"] for d in hours["week"]].count(True) == 1
    assert hours["week"][0]["today"] is True
    assert hours["exceptions"][0]["note"] == "Christmas Day"


@pytest.mark.parametrize("place_id", ["00000000-0000-0000-0000-000000000000", "nope", "123"])
def test_unknown_place_is_a_404_problem(client, place_id):
    response = client.get(f"/api/v1/places/{place_id}")
    assert response.status_code == 404
    assert response.content_type == PROBLEM
    assert response.json["status"] == 404


def test_status_change_needs_a_maintainer(session, client, auth_headers):
    add_places(session, place_fields(51.5, -0.1, name="Status branch"))
    (pid,) = public_ids_by_external_id(session).values()
    url, body = f"/api/v1/places/{pid}", {"status": "temporarily_closed"}
    assert client.patch(url, json=body).status_code == 401
    for role in ("cardholder", "merchant", "reviewer"):
        response = client.patch(url, json=body, headers=auth_headers(role))
        assert response.status_code == 403, role
        assert response.content_type == PROBLEM
    assert client.get(url).json["properties"]["status"] == "active"
    bad = client.patch(url, json={"status": "gone"}, headers=auth_headers("maintainer"))
    assert bad.status_code == 400 and bad.json["errors"][0]["field"] == "status"
    for role in ("maintainer", "admin"):
        response = client.patch(url, json=body, headers=auth_headers(role))
        assert response.status_code == 200, role
    assert client.get(url).json["properties"]["status"] == "temporarily_closed"


def test_sample_data_answers_in_every_city(client, sample_places):
    assert sample_places.inserted >= 360
    for lat, lon in ((51.5136, -0.0890), (1.2840, 103.8510), (22.2819, 114.1582)):
        branches = client.get("/api/v1/branches/nearby",
                              query_string={"lat": lat, "lon": lon}).json
        assert branches["count"] > 0
        repay = client.get("/api/v1/repayment-points/nearby",
                           query_string={"lat": lat, "lon": lon, "method": "cash"}).json
        assert repay["count"] > 0
        assert all("cash" in f["properties"]["repayment"]["methods"] for f in repay["features"])


def test_errors_and_logs_never_carry_the_query_point(client, mixed, monkeypatch, caplog):
    def explode(session, query, now):
        raise RuntimeError(f"boom at {query.lat},{query.lon}")

    monkeypatch.setattr(service, "find_nearby_places", explode)
    caplog.set_level(logging.DEBUG)
    response = client.get("/api/v1/places/nearby", query_string={"lat": 51.43219, "lon": -0.2468})
    assert response.status_code == 500
    assert response.content_type == PROBLEM
    text = response.get_data(as_text=True)
    assert "51.43219" not in text and "0.2468" not in text
    assert "RuntimeError" in caplog.text
    assert "51.43219" not in caplog.text and "0.2468" not in caplog.text


def test_openapi_documents_the_endpoints_and_docs_work_offline(client):
    spec = client.get("/api/v1/openapi.json").json
    for path in ("/api/v1/branches/nearby", "/api/v1/atms/nearby", "/api/v1/places/nearby",
                 "/api/v1/repayment-points/nearby", "/api/v1/places", "/api/v1/auth/login"):
        assert path in spec["paths"]
    params = {p["name"] for p in spec["paths"]["/api/v1/places/nearby"]["get"]["parameters"]}
    assert {"lat", "lon", "radius_m", "limit", "cursor", "open_now", "services"} <= params
    assert "400" in spec["paths"]["/api/v1/places/nearby"]["get"]["responses"]
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        with client.get(f"/api/v1/docs/assets/{asset}") as response:
            assert response.status_code == 200 and len(response.data) > 1000


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "ready"


def test_readiness_waits_for_the_schema_with_a_retry_after(app, database_url):
    """A database whose schema is behind the code (a deploy before its migration) is not
    ready: 503 problem+json saying which revision, and when to ask again."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as admin:
        head = admin.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        admin.execute("UPDATE alembic_version SET version_num = '0001_behind'")
        try:
            response = app.test_client().get("/readyz")
        finally:
            admin.execute("UPDATE alembic_version SET version_num = %s", (head,))
    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    assert "0001_behind" in response.json["detail"] and head in response.json["detail"]
    assert response.headers["Retry-After"] == str(app.config["DB_RETRY_AFTER_SECONDS"])
    assert app.test_client().get("/readyz").status_code == 200
