"""Hostile values in a notice version are a 4xx, never a 5xx."""

from __future__ import annotations

import pytest

from tests.backend.offer_factories import (  # noqa: F401 (a fixture)
    PROBLEM,
    OfferWorld,
    fast_password_hashing,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
NOTICE = "/api/v1/privacy/notices/promotions"
WEIRD = ["%00", "a%00b", "x" * 5000, "%E2%80%AE2026-11", "..%2F..%2Fetc", "%F0%9F%98%80",
         "2026-11%20", "'; DROP TABLE privacy_notices; --"]


@pytest.mark.parametrize("version", WEIRD)
def test_a_strange_version_in_the_path_is_a_404(client, version):
    response = client.get(f"{NOTICE}/{version}")
    assert response.status_code == 404 and response.content_type == PROBLEM
    assert client.get(NOTICE).status_code == 200


@pytest.mark.parametrize("version", ["\u0000", "2026-11\u0000", "\ud7ff", " 2026-11", ""])
@pytest.mark.parametrize("enabled", [True, False])
def test_a_strange_version_in_the_consent_is_a_4xx(client, login, version, enabled):
    world = OfferWorld(client, login)
    headers = world.cardholder(enabled=False)
    response = client.put("/api/v1/me/consent", headers=headers, json={
        "promotions_enabled": enabled, "categories": ["dining"] if enabled else [],
        "policy_version": version})
    if enabled or "\u0000" in version:
        # A NUL is malformed input for any request, withdrawals included (backend/guards.py):
        # the request is refused as a whole, naming the field, before the notice is looked at.
        assert 400 <= response.status_code < 500 and response.content_type == PROBLEM
        assert "policy_version" in [e["field"] for e in response.json["errors"]]
    else:  # a withdrawal is never refused for the version it names
        assert response.status_code == 200


@pytest.mark.parametrize("password", ["\u0000", "x" * 1024, "\ud83d\ude00", 12, None, ["a"]])
def test_a_strange_erasure_password_is_a_4xx_and_erases_nothing(client, login, password):
    tokens = login("cardholder")
    stale = client.post("/api/v1/auth/refresh",
                        headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    headers = {"Authorization": f"Bearer {stale.json['access_token']}"}
    response = client.delete("/api/v1/me", headers=headers, json={"password": password})
    assert response.status_code in (400, 401) and response.content_type == PROBLEM
    assert client.get("/api/v1/me", headers=headers).status_code == 200
