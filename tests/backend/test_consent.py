"""Consent to promotions: off by default, a ledger of every change, export and forgetting."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from backend import vocab
from backend.accounts.consent import POLICY_VERSION
from tests.backend.offer_factories import (  # noqa: F401 (a fixture)
    PROBLEM,
    OfferWorld,
    fast_password_hashing,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
CONSENT = "/api/v1/me/consent"


@pytest.fixture
def world(client, login):
    return OfferWorld(client, login)


@pytest.fixture
def cardholder(world):
    return world.cardholder(enabled=False)


def put(client, headers, **body):
    return client.put(CONSENT, headers=headers, json=body)


def history(client, headers) -> list[dict]:
    response = client.get(f"{CONSENT}/history", headers=headers)
    assert response.status_code == 200
    return response.json["items"]


def test_off_by_default_with_no_history(client, cardholder):
    response = client.get(CONSENT, headers=cardholder)
    assert response.status_code == 200
    assert response.json == {"promotions_enabled": False, "categories": [], "max_offers": 5,
                             "policy_version": None, "current_policy_version": POLICY_VERSION,
                             "updated_at": None,
                             "available_categories": list(vocab.OFFER_CATEGORIES)}
    assert history(client, cardholder) == []


def test_grant_change_withdraw_are_each_recorded(client, cardholder):
    granted = put(client, cardholder, promotions_enabled=True, categories=["dining", "cafes"],
                  max_offers=3, channel="app")
    assert granted.status_code == 200
    assert granted.json["promotions_enabled"] is True
    assert granted.json["categories"] == ["dining", "cafes"]
    assert granted.json["max_offers"] == 3
    assert granted.json["policy_version"] == POLICY_VERSION
    assert put(client, cardholder, promotions_enabled=True, categories=["travel"],
               channel="web").status_code == 200
    # One call withdraws; categories are not kept.
    withdrawn = put(client, cardholder, promotions_enabled=False)
    assert withdrawn.json["promotions_enabled"] is False and withdrawn.json["categories"] == []
    assert client.get(CONSENT, headers=cardholder).json["promotions_enabled"] is False

    events = history(client, cardholder)
    assert [(e["action"], e["promotions_enabled"], e["categories"], e["max_offers"],
             e["channel"]) for e in events] == [
        ("granted", True, ["dining", "cafes"], 3, "app"),
        ("changed", True, ["travel"], 5, "web"),
        ("withdrawn", False, [], 5, "api"),
    ]
    assert {e["policy_version"] for e in events} == {POLICY_VERSION}
    times = [e["recorded_at"] for e in events]
    assert times == sorted(times) and all("+00:00" in t for t in times)


def test_setting_the_same_choice_again_records_nothing(client, cardholder):
    put(client, cardholder, promotions_enabled=False)  # already off: no change
    assert history(client, cardholder) == []
    for _ in range(2):
        put(client, cardholder, promotions_enabled=True, categories=["dining"])
    assert [e["action"] for e in history(client, cardholder)] == ["granted"]


def test_histories_are_per_cardholder(world, client):
    first = world.cardholder(categories=("dining",))
    second = world.cardholder(enabled=False)
    assert len(history(client, first)) == 1
    assert history(client, second) == []


@pytest.mark.parametrize(("body", "field"), [
    ({"promotions_enabled": True, "categories": []}, "categories"),
    ({"promotions_enabled": True}, "categories"),
    ({"promotions_enabled": True, "categories": ["caviar"]}, "categories.0"),
    ({"promotions_enabled": True, "categories": ["dining"], "max_offers": 21}, "max_offers"),
    ({"promotions_enabled": True, "categories": ["dining"], "max_offers": 0}, "max_offers"),
    ({"promotions_enabled": True, "categories": ["dining"], "channel": "sms"}, "channel"),
    ({"categories": ["dining"]}, "promotions_enabled"),
    ({"promotions_enabled": True, "categories": ["dining"], "user_id": 1}, "user_id"),
    ({"promotions_enabled": True, "categories": ["dining"], "updated_at": "2026-01-01"},
     "updated_at"),
])
def test_invalid_choices_are_a_400_naming_the_field(client, cardholder, body, field):
    response = client.put(CONSENT, headers=cardholder, json=body)
    assert response.status_code == 400 and response.content_type == PROBLEM
    assert field in [e["field"] for e in response.json["errors"]]
    assert history(client, cardholder) == []


def test_an_answer_to_an_old_notice_is_a_409(client, cardholder):
    response = put(client, cardholder, promotions_enabled=True, categories=["dining"],
                   policy_version="2020-01")
    assert response.status_code == 409
    assert response.json["current_policy_version"] == POLICY_VERSION
    assert put(client, cardholder, promotions_enabled=True, categories=["dining"],
               policy_version=POLICY_VERSION).status_code == 200


@pytest.mark.parametrize("role", ["merchant", "reviewer", "maintainer", "admin"])
def test_consent_is_for_cardholders(client, auth_headers, role):
    headers = auth_headers(role)
    assert client.get(CONSENT, headers=headers).status_code == 403
    assert put(client, headers, promotions_enabled=False).status_code == 403
    assert client.get(f"{CONSENT}/history", headers=headers).status_code == 403


@pytest.mark.parametrize(("method", "path"), [
    ("get", CONSENT), ("put", CONSENT), ("get", f"{CONSENT}/history"), ("get", "/api/v1/me/data"),
    ("delete", "/api/v1/me/offer-activity"),
])
def test_a_token_is_required(client, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 401 and response.content_type == PROBLEM


def test_the_ledger_is_append_only(client, cardholder, session):
    put(client, cardholder, promotions_enabled=True, categories=["dining"])
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("UPDATE consent_events SET channel = 'web'"))


def test_data_export_holds_account_consent_and_history(client, world):
    headers = world.cardholder(tier="gold", categories=("dining",))
    me = client.get("/api/v1/me", headers=headers).json
    response = client.get("/api/v1/me/data", headers=headers)
    assert response.status_code == 200
    data = response.json
    assert data["account"]["id"] == me["id"] and data["account"]["email"] == me["email"]
    assert data["account"]["card_tier"] == "gold"
    assert data["consent"]["promotions_enabled"] is True
    assert [e["action"] for e in data["consent_history"]] == ["granted"]
    assert data["ended_login_sessions"] == []
    assert data["offer_activity"] == []
    assert any("coordinates" in line for line in data["not_kept"])
    assert "password" not in response.get_data(as_text=True)


def test_data_export_lists_the_users_own_ended_logins(client, make_user, login):
    user = make_user("cardholder")

    def sign_in() -> dict:
        return client.post("/api/v1/auth/login",
                           json={"email": user.email, "password": PASSWORD}).json

    ended, current = sign_in(), sign_in()
    client.post("/api/v1/auth/logout", headers={"Authorization":
                                                f"Bearer {ended['refresh_token']}"})
    stranger = login("cardholder")  # another user's logout is not in this export
    client.post("/api/v1/auth/logout", headers={"Authorization":
                                                f"Bearer {stranger['access_token']}"})
    data = client.get("/api/v1/me/data", headers={
        "Authorization": f"Bearer {current['access_token']}"}).json
    assert len(data["ended_login_sessions"]) == 1
    assert set(data["ended_login_sessions"][0]) == {"revoked_at", "forgotten_after"}


def test_forgetting_offer_activity_leaves_nothing_behind(client, world, session):
    merchant = world.merchant()
    store = world.store(merchant, 51.5034, -0.1246)
    world.offer(merchant, [store])
    headers = world.cardholder()
    assert len(world.nearby(headers, 51.5007, -0.1246).json["features"]) == 1
    assert client.delete("/api/v1/me/offer-activity", headers=headers).status_code == 204
    # Nothing per-user existed: the day's count names no one and stays.
    assert session.execute(text("SELECT sum(count) FROM offer_daily_shows")).scalar() == 1
    # The choice itself is not offer activity: it stays until the cardholder changes it.
    assert client.get(CONSENT, headers=headers).json["promotions_enabled"] is True
