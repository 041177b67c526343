"""Offers near me: only for opted-in cardholders, only what is approved, valid and eligible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from backend.geo import geodesic_inverse, snap_to_grid
from backend.offers.nearby import OFFERS_NEARBY_SQL, distance_text, until_text, why_lines
from tests.backend.offer_factories import (  # noqa: F401 (a fixture)
    PROBLEM,
    OfferWorld,
    approve_as_reviewer,
    fast_password_hashing,
    square,
    verify,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

HERE = (51.5007, -0.1246)          # Westminster
NEAR = (51.5034, -0.1246)          # about 300 m north
FAR = (51.5907, -0.1246)           # about 10 km north


@pytest.fixture
def world(client, login):
    return OfferWorld(client, login)


@pytest.fixture
def cafe(world):
    """A verified merchant with a store 300 m from HERE and one 10 km away."""
    merchant = world.merchant("Cafe Nero")
    near = world.store(merchant, *NEAR, name="Cafe Nero Whitehall", street="1 Whitehall",
                       locality="London", postcode="SW1A 2DD")
    far = world.store(merchant, *FAR, name="Cafe Nero Finchley")
    return merchant, near, far


def test_no_consent_is_a_403_that_tells_the_app_how_to_ask(world, client):
    headers = world.cardholder(enabled=False)
    response = world.nearby(headers, *HERE)
    assert response.status_code == 403
    assert response.content_type == PROBLEM
    body = response.json
    assert body["type"] == "https://nearbank.example/problems/promotions-not-enabled"
    assert "Ask the user" in body["detail"] and "PUT /api/v1/me/consent" in body["detail"]
    assert body["consent_url"] == "/api/v1/me/consent"
    assert "dining" in body["categories"]
    assert str(HERE[0]) not in response.get_data(as_text=True)


def test_withdrawn_consent_takes_effect_on_the_next_request(world, cafe):
    merchant, near, _ = cafe
    world.offer(merchant, [near])
    headers = world.cardholder(categories=("dining",))
    assert world.nearby_titles(headers, *HERE) == ["20% off lunch"]
    world.set_consent(headers, False)
    response = world.nearby(headers, *HERE)
    assert response.status_code == 403
    assert response.json["type"].endswith("/promotions-not-enabled")
    world.set_consent(headers, True, ["dining"])
    assert world.nearby_titles(headers, *HERE) == ["20% off lunch"]


def test_an_offer_carries_its_store_distance_and_true_reasons(world, cafe):
    merchant, near, _ = cafe
    until = datetime(2099, 1, 1, tzinfo=UTC)  # midnight in London: the last day is 31 Dec
    offer = world.offer(merchant, [near], valid_until=until.isoformat(),
                        eligible_tiers=["gold", "platinum"])
    headers = world.cardholder(tier="platinum", categories=("dining", "travel"))
    response = world.nearby(headers, *HERE)
    assert response.status_code == 200
    collection = response.json
    assert collection["type"] == "FeatureCollection" and collection["count"] == 1
    assert collection["categories"] == ["dining", "travel"]
    feature = collection["features"][0]
    assert feature["id"] == offer["id"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [NEAR[1], NEAR[0]]}
    properties = feature["properties"]
    # Measured from the centre of HERE's ~100 m grid cell, the only point the server used.
    expected_m, expected_bearing = geodesic_inverse(*snap_to_grid(*HERE), *NEAR)
    assert properties["distance_m"] == pytest.approx(expected_m, abs=0.2)
    assert properties["bearing_deg"] == pytest.approx(expected_bearing, abs=0.2)
    assert properties["merchant"] == {"id": merchant.id, "name": "Cafe Nero"}
    assert properties["store"]["id"] == near["id"]
    assert properties["store"]["address"]["street"] == "1 Whitehall"
    assert properties["benefit"] == {"type": "percent_off", "percent": "20.00",
                                     "summary": "20% off"}
    assert properties["in_area"] is False
    assert properties["why"] == [
        "You enabled offers in dining",
        f"{round(expected_m, -1):.0f} m from you",
        "Valid for platinum cards until 31 Dec 2098",
    ]


@pytest.mark.parametrize(("wanted", "asked", "shown"), [
    (("travel",), None, False),            # the offer's category was not chosen
    (("dining", "travel"), "travel", False),  # narrowed to another chosen category
    (("dining", "travel"), "dining", True),
    (("travel",), "dining", False),        # asking cannot widen the consent
])
def test_only_the_categories_the_cardholder_chose(world, cafe, wanted, asked, shown):
    merchant, near, _ = cafe
    world.offer(merchant, [near])
    headers = world.cardholder(categories=wanted)
    params = {"category": asked} if asked else {}
    assert world.nearby_titles(headers, *HERE, **params) == (["20% off lunch"] if shown else [])


def test_unknown_category_parameter_is_a_400(world):
    headers = world.cardholder()
    response = world.nearby(headers, *HERE, category="dining,caviar")
    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "category"


@pytest.mark.parametrize(("tier", "shown"), [("classic", False), ("gold", True),
                                             ("platinum", True)])
def test_only_for_eligible_card_tiers(world, cafe, tier, shown):
    merchant, near, _ = cafe
    world.offer(merchant, [near], eligible_tiers=["gold", "platinum"])
    headers = world.cardholder(tier=tier)
    assert world.nearby_titles(headers, *HERE) == (["20% off lunch"] if shown else [])


def test_expired_and_not_yet_valid_offers_are_not_shown(world, cafe, session):
    merchant, near, _ = cafe
    now = datetime.now(UTC)
    world.offer(merchant, [near], title="Current")
    world.offer(merchant, [near], title="Tomorrow",
                valid_from=(now + timedelta(days=1)).isoformat())
    expired = world.offer(merchant, [near], title="Expired")
    # The API refuses an end in the past, so the offer expires by the clock moving on.
    session.execute(text("UPDATE offers SET valid_from = :a, valid_until = :b "
                         "WHERE public_id = :id"),
                    {"a": now - timedelta(days=9), "b": now - timedelta(seconds=1),
                     "id": expired["id"]})
    headers = world.cardholder()
    assert world.nearby_titles(headers, *HERE) == ["Current"]


def test_only_approved_offers(world, cafe, client):
    merchant, near, _ = cafe
    world.offer(merchant, [near], title="Approved")
    world.offer(merchant, [near], title="Pending", approve=False)
    world.offer(merchant, [near], title="Draft", approve=False, submit=False)
    rejected = world.offer(merchant, [near], title="Rejected", approve=False)
    client.post(f"/api/v1/review/offers/{rejected['id']}/reject", headers=world.reviewer,
                json={"reason": "Terms unclear."})
    withdrawn = world.offer(merchant, [near], title="Withdrawn")
    client.delete(f"/api/v1/merchants/me/offers/{withdrawn['id']}", headers=merchant.headers)
    headers = world.cardholder()
    assert world.nearby_titles(headers, *HERE) == ["Approved"]


def test_edited_approved_offer_disappears_until_approved_again(world, cafe, client):
    merchant, near, _ = cafe
    offer = world.offer(merchant, [near])
    headers = world.cardholder()
    client.patch(f"/api/v1/merchants/me/offers/{offer['id']}", headers=merchant.headers,
                 json={"title": "25% off lunch", "benefit": {"type": "percent_off",
                                                             "percent": 25}})
    assert world.nearby_titles(headers, *HERE) == []
    approve_as_reviewer(client, world.reviewer, offer["id"])
    assert world.nearby_titles(headers, *HERE) == ["25% off lunch"]


def test_offers_of_unverified_or_rejected_merchants_are_not_shown(world, client):
    unverified = world.merchant("New Shop", verified=False)
    store = world.store(unverified, *NEAR)
    world.offer(unverified, [store], title="Unverified")
    revoked = world.merchant("Revoked Shop")
    revoked_store = world.store(revoked, *NEAR)
    world.offer(revoked, [revoked_store], title="Revoked")
    headers = world.cardholder()
    assert world.nearby_titles(headers, *HERE) == ["Revoked"]
    client.post(f"/api/v1/review/merchants/{revoked.id}/reject", headers=world.reviewer,
                json={"reason": "Licence expired."})
    assert world.nearby_titles(headers, *HERE) == []
    verify(client, world.reviewer, unverified.id)
    assert world.nearby_titles(headers, *HERE) == ["Unverified"]


def test_outside_the_radius_is_not_shown_until_the_radius_reaches_it(world, cafe):
    merchant, _, far = cafe
    world.offer(merchant, [far], title="Finchley only")
    headers = world.cardholder()
    assert world.nearby_titles(headers, *HERE) == []
    assert world.nearby_titles(headers, *HERE, radius_m=9_000) == []
    assert world.nearby_titles(headers, *HERE, radius_m=11_000) == ["Finchley only"]


def test_inside_an_area_polygon_far_from_the_store(world, cafe):
    merchant, _, far = cafe
    # A square of about 1.1 km around HERE; the offer's only store is 10 km away.
    area = square(HERE[1] - 0.008, HERE[0] - 0.005, 0.01)
    offer = world.offer(merchant, [far], title="Westminster week", area=area)
    assert offer["area"] == area
    headers = world.cardholder()
    response = world.nearby(headers, *HERE)
    feature = response.json["features"][0]
    assert feature["properties"]["title"] == "Westminster week"
    assert feature["properties"]["in_area"] is True
    assert feature["geometry"]["coordinates"] == [FAR[1], FAR[0]]
    assert feature["properties"]["distance_m"] > 9_000
    assert feature["properties"]["why"][1:3] == [
        "You are inside the area where this offer applies",
        f"Its nearest store is {distance_text(geodesic_inverse(*HERE, *FAR)[0])} from you"]
    # Just outside the square, and still far from the store: nothing.
    assert world.nearby_titles(headers, HERE[0] + 0.0051, HERE[1]) == []


def test_nearest_first_at_each_offers_nearest_store(world):
    first = world.merchant("First")
    second = world.merchant("Second")
    a_far = world.store(first, 51.5100, -0.1246)      # ~1 km
    a_near = world.store(first, 51.5012, -0.1246)     # ~55 m
    b = world.store(second, 51.5040, -0.1246)         # ~370 m
    world.offer(first, [a_far], title="A far only")
    world.offer(first, [a_far, a_near], title="A both")
    world.offer(second, [b], title="B")
    headers = world.cardholder()
    response = world.nearby(headers, *HERE)
    titles = [f["properties"]["title"] for f in response.json["features"]]
    assert titles == ["A both", "B", "A far only"]
    distances = [f["properties"]["distance_m"] for f in response.json["features"]]
    assert distances == sorted(distances)
    assert response.json["features"][0]["properties"]["store"]["id"] == a_near["id"]


def test_ties_are_broken_by_offer_id(world, cafe):
    merchant, near, _ = cafe
    for title in ("One", "Two", "Three"):
        world.offer(merchant, [near], title=title)
    headers = world.cardholder()
    assert world.nearby_titles(headers, *HERE) == ["One", "Two", "Three"]


def test_merchant_cap_and_cardholder_maximum(world, client):
    chain = world.merchant("Chain")
    other = world.merchant("Other")
    chain_store = world.store(chain, *NEAR)
    other_store = world.store(other, 51.5040, -0.1246)
    for title in ("C1", "C2", "C3", "C4"):
        world.offer(chain, [chain_store], title=title)
    world.offer(other, [other_store], title="O1")
    headers = world.cardholder(max_offers=5)
    # Default merchant cap is 3.
    assert world.nearby_titles(headers, *HERE) == ["C1", "C2", "C3", "O1"]
    response = client.patch("/api/v1/merchants/me", headers=chain.headers,
                            json={"max_offers_shown": 1})
    assert response.status_code == 200 and response.json["max_offers_shown"] == 1
    assert world.nearby_titles(headers, *HERE) == ["C1", "O1"]
    few = world.cardholder(max_offers=1)
    assert world.nearby_titles(few, *HERE) == ["C1"]


def test_each_cardholder_counts_once_per_shown_offer_and_day(world, cafe, client, session):
    merchant, near, far = cafe
    shown = world.offer(merchant, [near], title="Shown")
    world.offer(merchant, [near, far], title="Also shown")
    not_shown = world.offer(merchant, [far], title="Not shown")
    headers, other = world.cardholder(), world.cardholder()
    for _ in range(11):  # asking again is not another person
        assert world.nearby_titles(headers, *HERE) == ["Shown", "Also shown"]
    assert world.nearby_titles(other, *HERE) == ["Shown", "Also shown"]
    counted = session.execute(text(
        "SELECT count(*) FROM offer_day_viewers v JOIN offers o ON o.id = v.offer_id "
        "WHERE o.public_id = :id AND v.day = CURRENT_DATE"), {"id": shown["id"]}).scalar_one()
    assert counted == 2
    rows = session.execute(text("SELECT count(DISTINCT offer_id), count(*) "
                                "FROM offer_day_viewers")).one()
    assert tuple(rows) == (2, 4)
    # Today is not over: nothing is published yet, for the shown offer or the other one.
    today = datetime.now(UTC).date()
    for offer in (shown, not_shown):
        stats = client.get(f"/api/v1/merchants/me/offers/{offer['id']}/stats",
                           headers=merchant.headers).json
        assert stats["days"] == [] and stats["total_cardholder_days"] == 0
        assert stats["published_through"] == (today - timedelta(days=1)).isoformat()


def test_a_refused_request_counts_nothing(world, cafe, session):
    merchant, near, _ = cafe
    world.offer(merchant, [near])
    headers = world.cardholder(enabled=False)
    assert world.nearby(headers, *HERE).status_code == 403
    assert session.execute(text("SELECT count(*) FROM offer_day_viewers")).scalar() == 0


@pytest.mark.parametrize("role", ["merchant", "reviewer", "maintainer", "admin"])
def test_only_cardholders_ask_for_offers(world, auth_headers, role):
    response = world.nearby(auth_headers(role), *HERE)
    assert response.status_code == 403
    assert not response.json["type"].endswith("/promotions-not-enabled")


def test_without_a_token_is_a_401(client):
    response = client.get("/api/v1/offers/nearby", query_string={"lat": HERE[0],
                                                                 "lon": HERE[1]})
    assert response.status_code == 401 and response.content_type == PROBLEM


@pytest.mark.parametrize(("params", "field"), [
    ({"lat": 91.4872913, "lon": -0.1183227}, "lat"),
    ({"lat": 51.4872913, "lon": -190.1183227}, "lon"),
    ({"lat": 51.4872913, "lon": -0.1183227, "radius_m": 50_001}, "radius_m"),
    ({"lon": -0.1183227}, "lat"),
])
def test_bad_input_is_a_400_naming_the_field_without_echoing_it(world, params, field):
    headers = world.cardholder()
    response = world.client.get("/api/v1/offers/nearby", headers=headers, query_string=params)
    assert response.status_code == 400 and response.content_type == PROBLEM
    assert [e["field"] for e in response.json["errors"]] == [field]
    body = response.get_data(as_text=True)
    assert "1183227" not in body and "4872913" not in body


def test_distance_text():
    assert distance_text(4) == "less than 10 m"
    assert distance_text(304.9) == "300 m"
    assert distance_text(994) == "990 m"
    assert distance_text(995) == "1.0 km"
    assert distance_text(9_712) == "9.7 km"


def test_until_text_speaks_the_stores_local_time():
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    # Local midnight ends the day before.
    assert until_text(datetime(2027, 1, 1, tzinfo=UTC), "Europe/London", now) == "31 Dec"
    assert until_text(datetime(2026, 12, 31, 16, tzinfo=UTC), "Asia/Singapore",
                      now) == "31 Dec"
    # Another instant: the time too, in the store's zone (BST in summer).
    assert until_text(datetime(2027, 7, 1, 17, tzinfo=UTC), "Europe/London",
                      now) == "18:00 on 1 Jul 2027"
    assert until_text(datetime(2026, 12, 31, 17, tzinfo=UTC), "Asia/Hong_Kong",
                      now) == "01:00 on 1 Jan 2027"


def test_why_lines_state_the_facts():
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    end = datetime(2027, 1, 1, tzinfo=UTC)
    assert why_lines("health_and_beauty", 312.0, False, "gold", end, "Europe/London",
                     now) == ["You enabled offers in health and beauty", "310 m from you",
                              "Valid for gold cards until 31 Dec"]
    assert why_lines("dining", 2500.0, True, "classic", end, "Europe/London", now)[1:3] == [
        "You are inside the area where this offer applies",
        "Its nearest store is 2.5 km from you"]


def test_candidates_come_from_the_spatial_indexes(session):
    # With sequential scans priced out, the plan shows the query can use both GiST indexes:
    # stores within the radius and areas covering the point.
    # The candidates are the `hits` part of the query; the rest joins them by primary key. On
    # the tiny tables of a test, the whole query's plan may drive from offer_stores instead,
    # depending on what earlier tests left in the statistics, so the candidates are explained
    # on their own.
    session.execute(text("SET LOCAL enable_seqscan = off"))
    hits = OFFERS_NEARBY_SQL.split("WITH hits AS (", 1)[1].split("),\neligible AS", 1)[0]
    plan = "\n".join(session.scalars(text("EXPLAIN " + hits), {
        "lat": HERE[0], "lon": HERE[1], "radius_m": 5000, "now": datetime.now(UTC),
        "categories": ["dining"], "tier": "gold", "max_offers": 5}).all())
    assert "ix_merchant_stores_location" in plan
    assert "ix_offers_area" in plan


def test_openapi_documents_the_offer_endpoints(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in ("/api/v1/merchants", "/api/v1/merchants/me/stores/{store_id}",
                 "/api/v1/merchants/me/offers/{offer_id}/stats",
                 "/api/v1/review/offers/{offer_id}/reject",
                 "/api/v1/review/merchants/{merchant_id}/verify", "/api/v1/offers/nearby",
                 "/api/v1/me/consent", "/api/v1/me/consent/history", "/api/v1/me/data",
                 "/api/v1/me/offer-activity"):
        assert path in paths, path
    nearby = paths["/api/v1/offers/nearby"]["get"]
    assert {p["name"] for p in nearby["parameters"]} >= {"lat", "lon", "radius_m", "category"}
    assert "403" in nearby["responses"]
