"""A merchant's offers: validation, area polygons, the review workflow, stats, ownership."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.backend.offer_factories import (  # noqa: F401 (a fixture)
    PROBLEM,
    OfferWorld,
    approve_as_reviewer,
    fast_password_hashing,
    square,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
OFFERS = "/api/v1/merchants/me/offers"
LONDON = (51.5007, -0.1246)


@pytest.fixture
def world(client, login):
    return OfferWorld(client, login)


@pytest.fixture
def shop(world):
    merchant = world.merchant("Shop")
    store = world.store(merchant, *LONDON, name="Westminster")
    return merchant, store


def fields_of(response) -> list[str]:
    return [e["field"] for e in response.json.get("errors", [])]


def create(client, world, merchant, stores, **fields):
    return client.post(OFFERS, headers=merchant.headers, json=world.offer_body(stores, **fields))


# --- creating and reading ---------------------------------------------------------------------

def test_a_new_offer_goes_to_review(client, world, shop):
    merchant, store = shop
    response = create(client, world, merchant, [store],
                      benefit={"type": "amount_off", "amount": "5", "currency": "GBP"},
                      eligible_tiers=["gold", "gold", "platinum"])
    assert response.status_code == 201
    offer = response.json
    assert offer["status"] == "pending_review"
    assert offer["visible_now"] is False and offer["expired"] is False
    assert offer["benefit"] == {"type": "amount_off", "amount": "5.00", "currency": "GBP",
                                "summary": "£5 off"}
    assert offer["eligible_tiers"] == ["gold", "platinum"]
    assert offer["store_ids"] == [store["id"]]
    assert offer["area"] is None and offer["area_km2"] is None
    assert offer["review"]["submitted_at"] and offer["review"]["reason"] is None
    assert "merchant" not in offer  # the reviewers' view only
    assert client.get(f"{OFFERS}/{offer['id']}", headers=merchant.headers).json == offer


def test_a_draft_is_submitted_later(client, world, shop):
    merchant, store = shop
    draft = create(client, world, merchant, [store], submit=False).json
    assert draft["status"] == "draft" and draft["review"]["submitted_at"] is None
    assert client.get("/api/v1/review/offers", headers=world.reviewer).json["items"] == []
    edited = client.patch(f"{OFFERS}/{draft['id']}", headers=merchant.headers,
                          json={"title": "Better title"})
    assert edited.json["status"] == "draft"
    submitted = client.post(f"{OFFERS}/{draft['id']}/submit", headers=merchant.headers)
    assert submitted.status_code == 200 and submitted.json["status"] == "pending_review"
    assert client.post(f"{OFFERS}/{draft['id']}/submit",
                       headers=merchant.headers).json["status"] == "pending_review"


def test_benefit_summaries(client, world, shop):
    merchant, store = shop
    for benefit, summary in [
        ({"type": "percent_off", "percent": 12.5}, "12.5% off"),
        ({"type": "amount_off", "amount": 10, "currency": "SGD"}, "S$10 off"),
        ({"type": "amount_off", "amount": "2.50", "currency": "EUR"}, "2.5 EUR off"),
        ({"type": "text", "text": "Free coffee with any cake"}, "Free coffee with any cake"),
    ]:
        offer = create(client, world, merchant, [store], benefit=benefit).json
        assert offer["benefit"]["summary"] == summary


def test_listing_by_status(client, world, shop):
    merchant, store = shop
    a = world.offer(merchant, [store], title="A")
    b = world.offer(merchant, [store], title="B", approve=False)
    listed = client.get(OFFERS, headers=merchant.headers).json
    assert [o["id"] for o in listed] == [a["id"], b["id"]]
    pending = client.get(OFFERS, headers=merchant.headers,
                         query_string={"status": "pending_review"}).json
    assert [o["id"] for o in pending] == [b["id"]]
    assert client.get(OFFERS, headers=merchant.headers,
                      query_string={"status": "live"}).status_code == 400


# --- validation and mass assignment ----------------------------------------------------------

@pytest.mark.parametrize("field", ["status", "merchant_id", "verified", "id", "review_reason",
                                   "submitted_at", "reviewed_by", "approved"])
def test_fields_a_merchant_may_not_set_are_refused(client, world, shop, field):
    merchant, store = shop
    response = create(client, world, merchant, [store], **{field: "approved"})
    assert response.status_code == 400 and response.content_type == PROBLEM
    assert fields_of(response) == [field]
    assert response.json["errors"][0]["message"] == "Unknown field."
    offer = world.offer(merchant, [store], approve=False)
    patched = client.patch(f"{OFFERS}/{offer['id']}", headers=merchant.headers,
                           json={field: "approved"})
    assert patched.status_code == 400 and fields_of(patched) == [field]
    assert client.get(f"{OFFERS}/{offer['id']}",
                      headers=merchant.headers).json["status"] == "pending_review"


def test_a_merchant_id_in_the_body_is_refused_even_when_it_is_its_own(client, world, shop):
    merchant, store = shop
    response = create(client, world, merchant, [store], merchant_id=merchant.id)
    assert response.status_code == 400 and fields_of(response) == ["merchant_id"]


NOW = datetime.now(UTC)


@pytest.mark.parametrize(("fields", "field"), [
    ({"title": ""}, "title"),
    ({"title": "x" * 121}, "title"),
    ({"category": "caviar"}, "category"),
    ({"benefit": {"type": "percent_off"}}, "benefit.percent"),
    ({"benefit": {"type": "percent_off", "percent": 120}}, "benefit.percent"),
    ({"benefit": {"type": "percent_off", "percent": 0}}, "benefit.percent"),
    ({"benefit": {"type": "percent_off", "percent": 10.555}}, "benefit.percent"),
    ({"benefit": {"type": "percent_off", "percent": 10, "amount": 5}}, "benefit.amount"),
    ({"benefit": {"type": "amount_off", "amount": 5}}, "benefit.currency"),
    ({"benefit": {"type": "amount_off", "amount": 5, "currency": "pounds"}},
     "benefit.currency"),
    ({"benefit": {"type": "free_lunch"}}, "benefit.type"),
    ({"benefit": {"type": "text", "text": "Free", "status": "approved"}}, "benefit.status"),
    ({"valid_from": "2026-12-01T00:00:00"}, "valid_from"),  # no offset
    ({"valid_until": (NOW - timedelta(days=2)).isoformat()}, "valid_until"),
    ({"valid_from": (NOW + timedelta(days=40)).isoformat()}, "valid_until"),
    ({"eligible_tiers": []}, "eligible_tiers"),
    ({"eligible_tiers": ["diamond"]}, "eligible_tiers.0"),
    ({"store_ids": []}, "store_ids"),
    ({"store_ids": ["not-a-uuid"]}, "store_ids.0"),
    ({"area": {"type": "Point", "coordinates": [-0.12, 51.5]}}, "area"),
])
def test_invalid_offers_are_a_400_naming_the_field(client, world, shop, fields, field):
    merchant, store = shop
    response = create(client, world, merchant, [store], **fields)
    assert response.status_code == 400 and response.content_type == PROBLEM
    assert fields_of(response) == [field], response.json
    assert client.get(OFFERS, headers=merchant.headers).json == []


def test_an_end_in_the_past_is_refused(client, world, shop):
    merchant, store = shop
    response = create(client, world, merchant, [store],
                      valid_from=(NOW - timedelta(days=9)).isoformat(),
                      valid_until=(NOW - timedelta(days=1)).isoformat())
    assert response.status_code == 400 and fields_of(response) == ["valid_until"]
    assert response.json["errors"][0]["message"] == "Has already passed."


def test_an_edit_is_checked_against_the_stored_window(client, world, shop):
    merchant, store = shop
    offer = world.offer(merchant, [store], approve=False)
    response = client.patch(f"{OFFERS}/{offer['id']}", headers=merchant.headers,
                            json={"valid_from": (NOW + timedelta(days=60)).isoformat()})
    assert response.status_code == 400 and fields_of(response) == ["valid_until"]


# --- area polygons ----------------------------------------------------------------------------

def test_a_valid_area_is_stored_as_given(client, world, shop):
    merchant, store = shop
    area = square(-0.13, 51.49, 0.02)
    hole = [[-0.125, 51.495], [-0.125, 51.5], [-0.12, 51.5], [-0.12, 51.495], [-0.125, 51.495]]
    with_hole = {"type": "Polygon", "coordinates": [area["coordinates"][0], hole]}
    offer = create(client, world, merchant, [store], area=with_hole).json
    assert offer["area"] == with_hole
    assert 2.5 < offer["area_km2"] < 3.2
    removed = client.patch(f"{OFFERS}/{offer['id']}", headers=merchant.headers,
                           json={"area": None})
    assert removed.json["area"] is None


@pytest.mark.parametrize(("area", "says"), [
    ({"type": "Polygon", "coordinates": [[[-0.13, 51.5], [-0.12, 51.51], [-0.12, 51.5],
                                          [-0.13, 51.51], [-0.13, 51.5]]]},
     "Ring 1 crosses itself"),
    (square(-0.6, 51.3, 0.5), "an offer area may cover at most 1,000 km²"),
    (square(-0.1300, 51.5000, 0.0001), "must cover at least 50,000 m² (about a shopping centre)"),
    (square(-0.13, 51.49, 0.02, clockwise=True),
     "The exterior ring is clockwise; RFC 7946 §3.1.6 requires exterior rings "
     "counter-clockwise"),
    ({"type": "Polygon", "coordinates": [[[-0.13, 51.5], [-0.12, 51.5], [-0.12, 51.51],
                                          [-0.13, 51.51]]]},
     "Ring 1 is not closed"),
    ({"type": "Polygon", "coordinates": [[[-0.13, 51.5], [-0.12, 51.5], [-0.13, 51.5]]]},
     "Ring 1 has 3 positions"),
    ({"type": "Polygon", "coordinates": [square(-0.13, 51.49, 0.02)["coordinates"][0],
                                         square(-0.125, 51.495, 0.005)["coordinates"][0]]},
     "Ring 2 (a hole) is counter-clockwise"),
    ({"type": "Polygon", "coordinates": [square(-0.13, 51.49, 0.02)["coordinates"][0],
                                         square(-0.05, 51.495, 0.005, True)["coordinates"][0]]},
     "The polygon is not valid (Hole lies outside shell)"),
    (square(2.30, 48.85, 0.02), "wholly inside one of our service regions"),
    (square(1.55, 50.95, 0.2), "wholly inside one of our service regions"),  # over Calais
    ({"type": "Polygon", "coordinates": [[[51.49, -0.13], [51.49, -0.11], [51.51, -0.11],
                                          [51.51, -0.13], [51.49, -0.13]]]},
     "are longitude and latitude swapped?"),
    ({"type": "Polygon", "coordinates": [[[-0.13, 95], [-0.12, 95], [-0.12, 96], [-0.13, 95]]]},
     "latitude must be between -90 and 90"),
    ({"type": "Polygon", "coordinates": [[["a", "b"]]]}, "must be [lon, lat]"),
    ({"type": "Polygon"}, "Coordinates must be a list of linear rings"),
    ({"type": "Polygon", "coordinates": [], "properties": {}}, "and nothing else"),
])
def test_invalid_areas_are_a_clear_400(client, world, shop, area, says):
    merchant, store = shop
    response = create(client, world, merchant, [store], area=area)
    assert response.status_code == 400 and response.content_type == PROBLEM
    assert fields_of(response) == ["area"]
    assert says in response.json["errors"][0]["message"], response.json


def test_an_area_must_be_in_the_market_of_the_offers_stores(client, world, shop):
    merchant, store = shop
    response = create(client, world, merchant, [store], area=square(103.84, 1.28, 0.01))
    assert response.status_code == 400 and fields_of(response) == ["area"]
    assert "same market" in response.json["errors"][0]["message"]


def test_areas_in_every_market(client, world):
    merchant = world.merchant()
    for lat, lon in [(1.2840, 103.8510), (22.2820, 114.1580)]:
        store = world.store(merchant, lat, lon)
        response = create(client, world, merchant, [store], area=square(lon - 0.01, lat - 0.01,
                                                                          0.02))
        assert response.status_code == 201, response.json


# --- review workflow --------------------------------------------------------------------------

def test_review_approve_and_reject_with_a_reason_the_merchant_sees(client, world, shop):
    merchant, store = shop
    first = world.offer(merchant, [store], title="First", approve=False)
    second = world.offer(merchant, [store], title="Second", approve=False)
    queue = client.get("/api/v1/review/offers?status=pending", headers=world.reviewer).json
    assert [o["id"] for o in queue["items"]] == [first["id"], second["id"]]
    assert queue["items"][0]["merchant"] == {"id": merchant.id, "name": "Shop",
                                             "verification_status": "verified"}
    assert queue["items"][0]["stores"][0]["id"] == store["id"]
    approved = approve_as_reviewer(client, world.reviewer, first["id"])
    assert approved.json["status"] == "approved" and approved.json["visible_now"] is True
    rejected = client.post(f"/api/v1/review/offers/{second['id']}/reject",
                           headers=world.reviewer, json={"reason": "Terms must name the menu."})
    assert rejected.json["status"] == "rejected"
    seen = client.get(f"{OFFERS}/{second['id']}", headers=merchant.headers).json
    assert seen["review"]["reason"] == "Terms must name the menu."
    assert seen["review"]["reviewed_at"]
    # Fixing a rejected offer sends it back to review and clears the old reason.
    fixed = client.patch(f"{OFFERS}/{second['id']}", headers=merchant.headers,
                         json={"terms": "Any main course on the lunch menu."})
    assert fixed.json["status"] == "pending_review" and fixed.json["review"]["reason"] is None
    assert client.get("/api/v1/review/offers", headers=world.reviewer,
                      query_string={"status": "approved"}).json["items"][0]["id"] == first["id"]


def test_editing_an_approved_offer_sends_it_back_to_review(client, world, shop):
    merchant, store = shop
    offer = world.offer(merchant, [store])
    assert offer["status"] == "approved"
    edited = client.patch(f"{OFFERS}/{offer['id']}", headers=merchant.headers,
                          json={"eligible_tiers": ["platinum"]})
    assert edited.status_code == 200
    assert edited.json["status"] == "pending_review" and edited.json["visible_now"] is False
    # An empty change is no change.
    same = client.patch(f"{OFFERS}/{offer['id']}", headers=merchant.headers, json={})
    assert same.json["status"] == "pending_review"


def test_state_rules(client, world, shop):
    merchant, store = shop
    draft = world.offer(merchant, [store], approve=False, submit=False)
    approved = world.offer(merchant, [store])
    for offer_id in (draft["id"], approved["id"]):
        response = approve_as_reviewer(client, world.reviewer, offer_id)
        assert response.status_code == 409 and response.content_type == PROBLEM
    assert client.post(f"/api/v1/review/offers/{draft['id']}/reject", headers=world.reviewer,
                       json={"reason": "No."}).status_code == 409
    assert client.post(f"{OFFERS}/{approved['id']}/submit",
                       headers=merchant.headers).status_code == 409
    # A reviewer can pull an approved offer.
    pulled = client.post(f"/api/v1/review/offers/{approved['id']}/reject",
                         headers=world.reviewer, json={"reason": "Complaints."})
    assert pulled.json["status"] == "rejected"
    assert client.post(f"/api/v1/review/offers/{approved['id']}/reject",
                       headers=world.reviewer, json={"reason": ""}).status_code == 400


def test_withdrawing_keeps_the_offer_and_its_stats(client, world, shop, session):
    merchant, store = shop
    offer = world.offer(merchant, [store])
    headers = world.cardholder()
    world.nearby(headers, *LONDON)
    assert client.delete(f"{OFFERS}/{offer['id']}", headers=merchant.headers).status_code == 204
    assert client.delete(f"{OFFERS}/{offer['id']}", headers=merchant.headers).status_code == 204
    kept = client.get(f"{OFFERS}/{offer['id']}", headers=merchant.headers).json
    assert kept["status"] == "withdrawn" and kept["visible_now"] is False
    stats = client.get(f"{OFFERS}/{offer['id']}/stats", headers=merchant.headers)
    assert stats.status_code == 200 and stats.json["offer_id"] == offer["id"]
    # Today's cardholder is kept (as a token) to be counted once the day is over.
    assert session.execute(text("SELECT count(*) FROM offer_day_viewers")).scalar() == 1
    assert client.patch(f"{OFFERS}/{offer['id']}", headers=merchant.headers,
                        json={"title": "Back"}).status_code == 409
    assert client.post(f"{OFFERS}/{offer['id']}/submit",
                       headers=merchant.headers).status_code == 409
    assert approve_as_reviewer(client, world.reviewer, offer["id"]).status_code == 409


def test_expiry_follows_the_validity_window(client, world, shop, session):
    merchant, store = shop
    offer = world.offer(merchant, [store])
    session.execute(text("UPDATE offers SET valid_from = now() - interval '2 days', "
                         "valid_until = now() - interval '1 second' WHERE public_id = :id"),
                    {"id": offer["id"]})
    seen = client.get(f"{OFFERS}/{offer['id']}", headers=merchant.headers).json
    assert seen["status"] == "approved" and seen["expired"] is True
    assert seen["visible_now"] is False


def test_review_is_for_reviewers(client, world, shop, auth_headers):
    merchant, store = shop
    offer = world.offer(merchant, [store], approve=False)
    for headers in (merchant.headers, auth_headers("cardholder"), auth_headers("maintainer")):
        assert client.get("/api/v1/review/offers", headers=headers).status_code == 403
        assert client.post(f"/api/v1/review/offers/{offer['id']}/approve",
                           headers=headers).status_code == 403
    admin = auth_headers("admin")
    assert client.get(f"/api/v1/review/offers/{offer['id']}", headers=admin).status_code == 200
    assert client.get("/api/v1/review/offers/not-a-uuid", headers=admin).status_code == 404


def test_review_queue_pages_by_cursor(client, world, shop):
    merchant, store = shop
    ids = [world.offer(merchant, [store], approve=False)["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/review/offers", headers=world.reviewer,
                          query_string=params).json
        assert len(page["items"]) <= 2
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids


def test_a_merchant_cannot_reach_another_merchants_offers(client, world, shop):
    owner, store = shop
    offer = world.offer(owner, [store], title="Mine")
    intruder = world.merchant("Intruder")
    own_store = world.store(intruder, *LONDON)
    url = f"{OFFERS}/{offer['id']}"
    for response in (
        client.get(url, headers=intruder.headers),
        client.patch(url, headers=intruder.headers, json={"title": "Stolen"}),
        client.delete(url, headers=intruder.headers),
        client.get(f"{url}/stats", headers=intruder.headers),
        client.post(f"{url}/submit", headers=intruder.headers),
    ):
        assert response.status_code == 404 and response.content_type == PROBLEM
        assert response.json["detail"] == "No offer of yours has this id."
    assert client.get(OFFERS, headers=intruder.headers).json == []
    # Another merchant's store cannot be named in an offer, on create or on edit.
    response = create(client, world, intruder, [store])
    assert response.status_code == 400 and fields_of(response) == ["store_ids"]
    assert store["id"] in response.json["errors"][0]["message"]
    own = world.offer(intruder, [own_store], approve=False)
    patched = client.patch(f"{OFFERS}/{own['id']}", headers=intruder.headers,
                           json={"store_ids": [own_store["id"], store["id"]]})
    assert patched.status_code == 400 and fields_of(patched) == ["store_ids"]
    # The owner's offer is untouched.
    mine = client.get(url, headers=owner.headers).json
    assert mine["title"] == "Mine" and mine["status"] == "approved"
    assert mine["store_ids"] == [store["id"]]


def test_unknown_or_malformed_offer_ids_are_404(client, world, shop):
    merchant, _ = shop
    for bad_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        assert client.get(f"{OFFERS}/{bad_id}", headers=merchant.headers).status_code == 404
        assert client.get(f"{OFFERS}/{bad_id}/stats",
                          headers=merchant.headers).status_code == 404


def test_an_offer_edited_after_the_reviewer_loaded_it_is_not_approved(client, world, shop):
    merchant, store = shop
    offer = world.offer(merchant, [store], approve=False)
    seen = client.get(f"/api/v1/review/offers/{offer['id']}", headers=world.reviewer).json
    edited = client.patch(f"{OFFERS}/{offer['id']}", headers=merchant.headers,
                          json={"title": "Something the reviewer never read"})
    assert edited.status_code == 200 and edited.json["status"] == "pending_review"
    refused = client.post(f"/api/v1/review/offers/{offer['id']}/approve",
                          headers=world.reviewer,
                          json={"seen_version": seen["version"]})
    assert refused.status_code == 409 and "changed after you opened it" in refused.json["detail"]
    assert approve_as_reviewer(client, world.reviewer, offer["id"]).status_code == 200


def test_approval_must_say_what_was_seen(client, world, shop):
    merchant, store = shop
    offer = world.offer(merchant, [store], approve=False)
    response = client.post(f"/api/v1/review/offers/{offer['id']}/approve",
                           headers=world.reviewer)
    assert response.status_code == 400
    assert response.json["errors"][0]["field"] == "seen_version"
