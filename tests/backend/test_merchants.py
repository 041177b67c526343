"""Merchant registration and verification, and a merchant's own stores (geocoded on loopback)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from backend.geocoding import geocoder_from_config
from tests.backend.offer_factories import (  # noqa: F401 (a fixture)
    PROBLEM,
    OfferWorld,
    fast_password_hashing,
    point,
    verify,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
STORES = "/api/v1/merchants/me/stores"

# What the loopback Nominatim knows: a query containing the key answers with the point.
GAZETTEER = {
    "1 whitehall": (51.5066, -0.1270),
    "10 downing street": (51.5034, -0.1276),
    "rue de rivoli": (48.8606, 2.3376),
}


class GazetteerNominatim(BaseHTTPRequestHandler):
    """Speaks enough of Nominatim's /search protocol for geopy; knows a few addresses."""

    requests: list[dict] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        url = urlparse(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        type(self).requests.append({"path": url.path, **params})
        query = params.get("q", "").lower()
        if "unavailable" in query:
            self.send_response(503)
            self.end_headers()
            return
        hits = [{"lat": str(lat), "lon": str(lon), "display_name": key, "place_id": 1,
                 "boundingbox": [str(lat), str(lat), str(lon), str(lon)]}
                for key, (lat, lon) in GAZETTEER.items() if key in query][:1]
        body = json.dumps(hits).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def gazetteer(app, monkeypatch):
    """A Nominatim on 127.0.0.1 and the app's geocoder pointed at it (never the internet)."""
    GazetteerNominatim.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), GazetteerNominatim)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                              daemon=True)
    thread.start()
    monkeypatch.setitem(app.config, "GEOCODER_SCHEME", "http")
    monkeypatch.setitem(app.config, "GEOCODER_DOMAIN", f"127.0.0.1:{server.server_port}")
    monkeypatch.setitem(app.config, "GEOCODER_MIN_DELAY_SECONDS", 0)
    monkeypatch.setitem(app.config, "GEOCODER_TIMEOUT_SECONDS", 5)
    monkeypatch.setitem(app.extensions, "nearbank.geocoder", geocoder_from_config(app.config))
    yield GazetteerNominatim
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def world(client, login):
    return OfferWorld(client, login)


def fields_of(response) -> list[str]:
    return [e["field"] for e in response.json.get("errors", [])]


# --- registration and the merchant's own record -----------------------------------------------

def test_registration_creates_an_unverified_merchant_and_its_user(client):
    response = client.post("/api/v1/merchants", json={
        "email": "owner@pret.example", "password": PASSWORD, "name": "Pret", "category": "cafes",
        "contact_phone": "+44 20 7946 0000", "website": "https://pret.example"})
    assert response.status_code == 201
    merchant = response.json
    assert merchant["name"] == "Pret" and merchant["category"] == "cafes"
    assert merchant["contact_email"] == "owner@pret.example"
    assert merchant["verification"] == {"status": "unverified", "reason": None,
                                        "verified_at": None}
    assert merchant["max_offers_shown"] == 3
    assert "password" not in response.get_data(as_text=True)
    tokens = client.post("/api/v1/auth/login", json={"email": "owner@pret.example",
                                                     "password": PASSWORD}).json
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/api/v1/me", headers=headers).json["role"] == "merchant"
    assert client.get("/api/v1/merchants/me", headers=headers).json["id"] == merchant["id"]


@pytest.mark.parametrize("field", ["role", "verified", "verification_status", "status", "id",
                                   "merchant_id", "user_id", "max_offers_shown"])
def test_registration_refuses_fields_a_merchant_may_not_set(client, field):
    response = client.post("/api/v1/merchants", json={
        "email": "x@shop.example", "password": PASSWORD, "name": "Shop",
        "category": "fashion", field: "verified" if field != "max_offers_shown" else 10})
    assert response.status_code == 400 and response.content_type == PROBLEM
    assert fields_of(response) == [field]
    assert response.json["errors"][0]["message"] == "Unknown field."


@pytest.mark.parametrize(("change", "field"), [
    ({"password": "short"}, "password"),
    ({"email": "not-an-address"}, "email"),
    ({"category": "caviar"}, "category"),
    ({"name": "  "}, "name"),
    ({"website": "ftp://shop.example"}, "website"),
])
def test_registration_validates_fields(client, change, field):
    body = {"email": "y@shop.example", "password": PASSWORD, "name": "Shop",
            "category": "fashion", **change}
    response = client.post("/api/v1/merchants", json=body)
    assert response.status_code == 400 and fields_of(response) == [field]


def test_a_taken_address_is_a_409(client, world):
    merchant = world.merchant()
    response = client.post("/api/v1/merchants", json={
        "email": merchant.email.upper(), "password": PASSWORD, "name": "Copy",
        "category": "dining"})
    assert response.status_code == 409 and response.content_type == PROBLEM


def test_merchant_updates_its_details_and_a_new_name_is_verified_again(client, world):
    merchant = world.merchant("Old Name")
    response = client.patch("/api/v1/merchants/me", headers=merchant.headers,
                            json={"contact_name": "Sam", "max_offers_shown": 2})
    assert response.status_code == 200
    assert response.json["contact_name"] == "Sam" and response.json["max_offers_shown"] == 2
    assert response.json["verification"]["status"] == "verified"
    renamed = client.patch("/api/v1/merchants/me", headers=merchant.headers,
                           json={"name": "New Name"})
    assert renamed.json["name"] == "New Name"
    assert renamed.json["verification"]["status"] == "unverified"


@pytest.mark.parametrize(("body", "field"), [
    ({"verification_status": "verified"}, "verification_status"),
    ({"verified": True}, "verified"),
    ({"status": "verified"}, "status"),
    ({"id": "00000000-0000-0000-0000-000000000000"}, "id"),
    ({"user_id": 1}, "user_id"),
    ({"max_offers_shown": 11}, "max_offers_shown"),
    ({"max_offers_shown": 0}, "max_offers_shown"),
])
def test_merchant_update_refuses_what_it_may_not_set(client, world, body, field):
    merchant = world.merchant(verified=False)
    response = client.patch("/api/v1/merchants/me", headers=merchant.headers, json=body)
    assert response.status_code == 400 and fields_of(response) == [field]
    assert client.get("/api/v1/merchants/me",
                      headers=merchant.headers).json["verification"]["status"] == "unverified"


def test_a_merchant_user_without_a_merchant_gets_a_404(client, auth_headers):
    response = client.get("/api/v1/merchants/me", headers=auth_headers("merchant"))
    assert response.status_code == 404 and "POST /api/v1/merchants" in response.json["detail"]


@pytest.mark.parametrize("role", ["cardholder", "reviewer", "maintainer"])
def test_merchant_endpoints_are_for_merchants(client, auth_headers, role):
    headers = auth_headers(role)
    for path in ("/api/v1/merchants/me", STORES, "/api/v1/merchants/me/offers"):
        assert client.get(path, headers=headers).status_code == 403


# --- verification -----------------------------------------------------------------------------

def test_reviewer_verifies_and_rejects_merchants(client, world):
    merchant = world.merchant("Queue", verified=False)
    queue = client.get("/api/v1/review/merchants", headers=world.reviewer).json
    assert merchant.id in [m["id"] for m in queue["items"]]
    rejected = client.post(f"/api/v1/review/merchants/{merchant.id}/reject",
                           headers=world.reviewer, json={"reason": "No trading licence."})
    assert rejected.status_code == 200
    seen = client.get("/api/v1/merchants/me", headers=merchant.headers).json
    assert seen["verification"] == {"status": "rejected", "reason": "No trading licence.",
                                    "verified_at": None}
    again = client.post(f"/api/v1/review/merchants/{merchant.id}/reject",
                        headers=world.reviewer, json={"reason": "Still no licence."})
    assert again.status_code == 409
    verified = verify(client, world.reviewer, merchant.id)
    assert verified.json["verification"]["status"] == "verified"
    assert verified.json["verification"]["reason"] is None
    assert verified.json["verification"]["verified_at"]
    assert verify(client, world.reviewer, merchant.id).status_code == 409
    listed = client.get("/api/v1/review/merchants?status=verified", headers=world.reviewer).json
    assert merchant.id in [m["id"] for m in listed["items"]]
    assert client.get(f"/api/v1/review/merchants/{merchant.id}",
                      headers=world.reviewer).json["name"] == "Queue"


def test_review_of_merchants_pages_by_cursor(client, world):
    ids = [world.merchant(f"M{i}", verified=False).id for i in range(3)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/review/merchants", headers=world.reviewer,
                          query_string=params).json
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [i for i in seen if i in ids] == ids
    bad = client.get("/api/v1/review/merchants?cursor=nonsense", headers=world.reviewer)
    assert bad.status_code == 400


def test_rejection_needs_a_reason_and_a_reviewer(client, world, auth_headers):
    merchant = world.merchant(verified=False)
    assert client.post(f"/api/v1/review/merchants/{merchant.id}/reject", headers=world.reviewer,
                       json={}).status_code == 400
    for role in ("merchant", "cardholder"):
        headers = merchant.headers if role == "merchant" else auth_headers(role)
        assert client.post(f"/api/v1/review/merchants/{merchant.id}/verify",
                           headers=headers).status_code == 403
        assert client.get("/api/v1/review/merchants", headers=headers).status_code == 403
    assert client.post("/api/v1/review/merchants/not-a-uuid/verify",
                       headers=world.reviewer, json={"seen_version": 1}).status_code == 404


# --- stores -----------------------------------------------------------------------------------

def test_store_with_a_point_lies_in_its_market(client, world):
    merchant = world.merchant()
    response = client.post(STORES, headers=merchant.headers, json={
        "name": "Raffles Place", "street": "1 Raffles Place", "postcode": "048616",
        "location": point(1.2840, 103.8510)})
    assert response.status_code == 201
    store = response.json
    assert store["country"] == "SG" and store["timezone"] == "Asia/Singapore"
    assert store["location"] == {"type": "Point", "coordinates": [103.851, 1.284]}
    assert store["geocoded"] is False
    assert store["address"] == {"street": "1 Raffles Place", "locality": None,
                                "postcode": "048616", "country": "SG"}
    assert client.get(f"{STORES}/{store['id']}", headers=merchant.headers).json == store
    assert [s["id"] for s in client.get(STORES, headers=merchant.headers).json] == [store["id"]]


def test_store_by_address_is_geocoded_on_loopback(client, world, gazetteer):
    merchant = world.merchant()
    response = client.post(STORES, headers=merchant.headers, json={
        "name": "Whitehall", "street": "1 Whitehall", "locality": "London", "country": "GB"})
    assert response.status_code == 201, response.json
    assert response.json["location"]["coordinates"] == [-0.127, 51.5066]
    assert response.json["geocoded"] is True and response.json["country"] == "GB"
    request = gazetteer.requests[-1]
    assert request["path"] == "/search" and request["q"] == "1 Whitehall, London"
    assert request["countrycodes"] == "gb"


def test_changing_the_address_geocodes_again_and_a_point_wins(client, world, gazetteer):
    merchant = world.merchant()
    store = world.store(merchant, 51.5066, -0.1270, street="1 Whitehall")
    moved = client.patch(f"{STORES}/{store['id']}", headers=merchant.headers,
                         json={"street": "10 Downing Street"})
    assert moved.status_code == 200
    assert moved.json["location"]["coordinates"] == [-0.1276, 51.5034]
    assert moved.json["geocoded"] is True
    placed = client.patch(f"{STORES}/{store['id']}", headers=merchant.headers,
                          json={"location": point(51.5010, -0.1250)})
    assert placed.json["location"]["coordinates"] == [-0.125, 51.501]
    assert placed.json["geocoded"] is False
    renamed = client.patch(f"{STORES}/{store['id']}", headers=merchant.headers,
                           json={"name": "Downing St"})
    assert renamed.json["name"] == "Downing St"
    assert renamed.json["location"] == placed.json["location"]  # a name is not an address
    assert len(gazetteer.requests) == 1


def test_an_address_nobody_knows_is_a_400(client, world, gazetteer):
    merchant = world.merchant()
    response = client.post(STORES, headers=merchant.headers,
                           json={"name": "Ghost", "street": "99 Nowhere Lane"})
    assert response.status_code == 400 and fields_of(response) == ["street"]
    assert "not found" in response.json["detail"]


def test_an_unreachable_geocoder_is_a_503(client, world, gazetteer):
    merchant = world.merchant()
    response = client.post(STORES, headers=merchant.headers,
                           json={"name": "Down", "street": "1 Unavailable Road"})
    assert response.status_code == 503 and response.content_type == PROBLEM
    assert response.json["type"].endswith("/geocoding-unavailable")
    assert "give the store's location" in response.json["detail"]


def test_an_address_found_abroad_is_a_400(client, world, gazetteer):
    merchant = world.merchant()
    response = client.post(STORES, headers=merchant.headers,
                           json={"name": "Paris", "street": "1 Rue de Rivoli"})
    assert response.status_code == 400 and fields_of(response) == ["street"]
    assert "outside our service regions" in response.json["errors"][0]["message"]


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "Paris", "location": point(48.8566, 2.3522)}, "location"),
    ({"name": "Swapped", "location": {"type": "Point", "coordinates": [51.5, -0.12]}},
     "location"),
    ({"name": "Bad", "location": {"type": "Point", "coordinates": [-0.12, 95]}}, "location"),
    ({"name": "Bad", "location": {"type": "Polygon", "coordinates": []}}, "location"),
    ({"name": "Wrong country", "country": "SG", "location": point(51.5, -0.12)}, "country"),
    ({"name": "Nothing to geocode"}, "location"),
    ({"location": point(51.5, -0.12)}, "name"),
    ({"name": "X", "location": point(51.5, -0.12), "merchant_id": 1}, "merchant_id"),
    ({"name": "X", "location": point(51.5, -0.12), "geocoded": True}, "geocoded"),
    ({"name": "X", "location": point(51.5, -0.12), "id": "x"}, "id"),
])
def test_invalid_stores_are_a_400_naming_the_field(client, world, body, field):
    merchant = world.merchant()
    response = client.post(STORES, headers=merchant.headers, json=body)
    assert response.status_code == 400 and response.content_type == PROBLEM
    assert fields_of(response) == [field], response.json
    assert client.get(STORES, headers=merchant.headers).json == []


def test_deleting_a_store(client, world):
    merchant = world.merchant()
    only = world.store(merchant, 51.50, -0.12, name="Only")
    spare = world.store(merchant, 51.51, -0.12, name="Spare")
    offer = world.offer(merchant, [only], approve=False)
    refused = client.delete(f"{STORES}/{only['id']}", headers=merchant.headers)
    assert refused.status_code == 409 and refused.json["offers"] == [offer["id"]]
    # Another store for the offer, and the first can go: the offer keeps the other.
    client.patch(f"/api/v1/merchants/me/offers/{offer['id']}", headers=merchant.headers,
                 json={"store_ids": [only["id"], spare["id"]]})
    assert client.delete(f"{STORES}/{only['id']}", headers=merchant.headers).status_code == 204
    assert client.get(f"{STORES}/{only['id']}", headers=merchant.headers).status_code == 404
    kept = client.get(f"/api/v1/merchants/me/offers/{offer['id']}", headers=merchant.headers)
    assert kept.json["store_ids"] == [spare["id"]]
    # A withdrawn offer does not hold its store.
    client.delete(f"/api/v1/merchants/me/offers/{offer['id']}", headers=merchant.headers)
    assert client.delete(f"{STORES}/{spare['id']}", headers=merchant.headers).status_code == 204


def test_a_merchant_cannot_reach_another_merchants_stores(client, world):
    owner = world.merchant("Owner")
    intruder = world.merchant("Intruder")
    store = world.store(owner, 51.50, -0.12, name="Mine")
    url = f"{STORES}/{store['id']}"
    for response in (
        client.get(url, headers=intruder.headers),
        client.patch(url, headers=intruder.headers, json={"name": "Stolen"}),
        client.delete(url, headers=intruder.headers),
    ):
        assert response.status_code == 404 and response.content_type == PROBLEM
        assert response.json["detail"] == "No store of yours has this id."
    assert client.get(STORES, headers=intruder.headers).json == []
    assert client.get(url, headers=owner.headers).json["name"] == "Mine"
    for bad_id in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        missing = client.get(f"{STORES}/{bad_id}", headers=owner.headers)
        assert missing.status_code == 404
        assert missing.json["detail"] == "No store of yours has this id."
