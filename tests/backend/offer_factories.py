"""Merchants, stores, offers and opted-in cardholders made through the API, for the offer tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import pytest
from argon2 import PasswordHasher

from tests.conftest import PASSWORD

PROBLEM = "application/problem+json"
_numbers = itertools.count(1)


def square(lon: float, lat: float, size: float, clockwise: bool = False) -> dict:
    """A GeoJSON Polygon: a lon/lat square with its south-west corner at (lon, lat)."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size],
            [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring[::-1] if clockwise else ring]}


def point(lat: float, lon: float) -> dict:
    """A GeoJSON Point."""
    return {"type": "Point", "coordinates": [lon, lat]}


@dataclass
class MerchantAccount:
    """A registered merchant and its user's bearer headers."""

    id: str
    email: str
    headers: dict[str, str]


class OfferWorld:
    """Builds the offer world through the API, as merchants, reviewers and cardholders do."""

    def __init__(self, client: Any, login: Any) -> None:
        self.client = client
        self.login = login

    @cached_property
    def notice_version(self) -> str:
        """The version of the promotions notice in force, as an app reads it before asking."""
        response = self.client.get("/api/v1/privacy/notices/promotions")
        assert response.status_code == 200, response.json
        return response.json["version"]

    @cached_property
    def reviewer(self) -> dict[str, str]:
        """Bearer headers of a reviewer."""
        return {"Authorization": f"Bearer {self.login('reviewer')['access_token']}"}

    def merchant(self, name: str = "Cafe Nero", category: str = "dining",
                 verified: bool = True, **fields: Any) -> MerchantAccount:
        """Register a merchant (and verify it unless told not to)."""
        email = f"merchant-{next(_numbers)}@example.com"
        response = self.client.post("/api/v1/merchants", json={
            "email": email, "password": PASSWORD, "name": name, "category": category,
            **fields})
        assert response.status_code == 201, response.json
        tokens = self.client.post("/api/v1/auth/login",
                                  json={"email": email, "password": PASSWORD}).json
        account = MerchantAccount(response.json["id"], email,
                                  {"Authorization": f"Bearer {tokens['access_token']}"})
        if verified:
            verified_response = verify(
                self.client, self.reviewer, account.id)
            assert verified_response.status_code == 200, verified_response.json
        return account

    def store(self, merchant: MerchantAccount, lat: float, lon: float,
              name: str = "Store", **fields: Any) -> dict:
        """Add a store at a point."""
        response = self.client.post("/api/v1/merchants/me/stores", headers=merchant.headers,
                                    json={"name": name, "location": point(lat, lon), **fields})
        assert response.status_code == 201, response.json
        return response.json

    def offer_body(self, stores: list[dict], **fields: Any) -> dict:
        """A valid offer body for some stores; any field can be overridden."""
        now = datetime.now(UTC)
        body = {
            "title": "20% off lunch", "description": "Any main course.",
            "terms": "One per visit.", "category": "dining",
            "benefit": {"type": "percent_off", "percent": 20},
            "valid_from": (now - timedelta(days=1)).isoformat(),
            "valid_until": (now + timedelta(days=30)).isoformat(),
            "eligible_tiers": ["classic", "gold", "platinum"],
            "store_ids": [s["id"] for s in stores],
        }
        body.update(fields)
        return body

    def offer(self, merchant: MerchantAccount, stores: list[dict], approve: bool = True,
              **fields: Any) -> dict:
        """Create an offer (pending review) and approve it unless told not to."""
        response = self.client.post("/api/v1/merchants/me/offers", headers=merchant.headers,
                                    json=self.offer_body(stores, **fields))
        assert response.status_code == 201, response.json
        offer = response.json
        if approve:
            approved = approve_as_reviewer(self.client, self.reviewer, offer["id"])
            assert approved.status_code == 200, approved.json
            offer = approved.json
        return offer

    def cardholder(self, tier: str = "classic", categories: tuple[str, ...] = ("dining",),
                   enabled: bool = True, max_offers: int = 5) -> dict[str, str]:
        """Bearer headers of a cardholder who chose promotions on (or not)."""
        headers = {"Authorization":
                   f"Bearer {self.login('cardholder', card_tier=tier)['access_token']}"}
        if enabled:
            self.set_consent(headers, True, list(categories), max_offers)
        return headers

    def set_consent(self, headers: dict[str, str], enabled: bool,
                    categories: list[str] | None = None, max_offers: int = 5) -> dict:
        """PUT the cardholder's consent."""
        response = self.client.put("/api/v1/me/consent", headers=headers, json={
            "promotions_enabled": enabled, "categories": categories or [],
            "max_offers": max_offers, "channel": "app",
            "policy_version": self.notice_version})
        assert response.status_code == 200, response.json
        return response.json

    def nearby(self, headers: dict[str, str], lat: float, lon: float, **params: Any) -> Any:
        """GET /offers/nearby; returns the response."""
        return self.client.get("/api/v1/offers/nearby", headers=headers,
                               query_string={"lat": lat, "lon": lon, **params})

    def nearby_titles(self, headers: dict[str, str], lat: float, lon: float,
                      **params: Any) -> list[str]:
        """Titles of the offers near a point, in answer order."""
        response = self.nearby(headers, lat, lon, **params)
        assert response.status_code == 200, response.json
        return [f["properties"]["title"] for f in response.json["features"]]


@pytest.fixture
def fast_password_hashing(monkeypatch):
    """argon2id with the cheapest parameters: these tests make many users, not passwords."""
    monkeypatch.setattr("backend.accounts.service._hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def approve_as_reviewer(client, headers: dict, offer_id: str):
    """Approve an offer as a reviewer does: load it, then approve what was loaded."""
    seen = client.get(f"/api/v1/review/offers/{offer_id}", headers=headers).json
    return client.post(f"/api/v1/review/offers/{offer_id}/approve", headers=headers,
                       json={"seen_version": seen["version"]})


def verify(client, headers: dict, merchant_id: str):
    """Verify a merchant as a reviewer does: load it, then verify what was loaded."""
    seen = client.get(f"/api/v1/review/merchants/{merchant_id}", headers=headers).json
    return client.post(f"/api/v1/review/merchants/{merchant_id}/verify", headers=headers,
                       json={"seen_version": seen["version"]})
