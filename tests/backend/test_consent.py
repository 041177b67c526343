"""Consent to promotions: off by default, a ledger of every change, export and forgetting."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from backend import vocab
from tests.backend.offer_factories import (  # noqa: F401 (a fixture)
    PROBLEM,
    OfferWorld,
    fast_password_hashing,
)
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
CONSENT = "/api/v1/me/consent"
POLICY_VERSION = "2026-11"  # the promotions notice that migration 0004_privacy publishes


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
                  max_offers=3, channel="app", policy_version=POLICY_VERSION)
    assert granted.status_code == 200
    assert granted.json["promotions_enabled"] is True
    assert granted.json["categories"] == ["dining", "cafes"]
    assert granted.json["max_offers"] == 3
    assert granted.json["policy_version"] == POLICY_VERSION
    assert put(client, cardholder, promotions_enabled=True, categories=["travel"],
               channel="web", policy_version=POLICY_VERSION).status_code == 200
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
    # The ledger records the version named: the grant and the change named it, the withdrawal
    # named none (and needs none).
    assert [e["policy_version"] for e in events] == [POLICY_VERSION, POLICY_VERSION, None]
    times = [e["recorded_at"] for e in events]
    assert times == sorted(times) and all("+00:00" in t for t in times)


def test_setting_the_same_choice_again_records_nothing(client, cardholder):
    put(client, cardholder, promotions_enabled=False)  # already off: no change
    assert history(client, cardholder) == []
    for _ in range(2):
        put(client, cardholder, promotions_enabled=True, categories=["dining"],
            policy_version=POLICY_VERSION)
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


NOTICE = "/api/v1/privacy/notices/promotions"


def publish_notice(session, version: str, published_on: str) -> None:
    """Publish another version of the promotions notice (as a release's migration would)."""
    session.execute(text("""
        INSERT INTO privacy_notices (topic, version, published_on, title_en, body_en,
                                     title_zh, body_zh)
        VALUES ('promotions', :version, CAST(:published_on AS date), 'Offers', :body, '优惠',
                :body)"""), {"version": version, "published_on": published_on,
                              "body": f"Text of {version}"})


def test_the_current_notice_is_served_in_english_and_chinese(client):
    response = client.get(NOTICE)
    assert response.status_code == 200
    notice = response.json
    assert notice["topic"] == "promotions" and notice["version"] == POLICY_VERSION
    assert notice["current"] is True and notice["current_version"] == POLICY_VERSION
    assert notice["published_on"] == "2026-11-24"
    assert notice["languages"] == ["en", "zh-Hans"] and set(notice["texts"]) == {"en", "zh-Hans"}
    assert "only when you ask" in notice["texts"]["en"]["body"]
    assert "100" in notice["texts"]["en"]["body"]  # it says how precise the position is
    assert "优惠" in notice["texts"]["zh-Hans"]["title"] and notice["texts"]["zh-Hans"]["body"]
    assert client.get(f"{NOTICE}/{POLICY_VERSION}").json == notice
    missing = client.get(f"{NOTICE}/1999-01")
    assert missing.status_code == 404 and missing.content_type == PROBLEM


def test_a_newer_notice_becomes_current_and_older_ones_stay_readable(client, session):
    publish_notice(session, "2026-12", "2026-11-30")
    publish_notice(session, "2099-01", "2099-01-01")  # announced, not yet in force
    assert client.get(NOTICE).json["version"] == "2026-12"
    old = client.get(f"{NOTICE}/{POLICY_VERSION}").json
    assert old["current"] is False and old["current_version"] == "2026-12"
    assert client.get(f"{NOTICE}/2099-01").json["current"] is False


def test_a_published_notice_never_changes(session):
    with pytest.raises(DBAPIError, match="never changes"), session.begin_nested():
        session.execute(text("UPDATE privacy_notices SET body_en = 'Something else'"))


@pytest.mark.parametrize("body", [
    {"promotions_enabled": True, "categories": ["dining"]},
    {"promotions_enabled": True, "categories": ["dining"], "policy_version": "1999-01"},
])
def test_saying_yes_without_naming_a_published_notice_is_a_422(client, cardholder, body):
    response = client.put(CONSENT, headers=cardholder, json=body)
    assert response.status_code == 422 and response.content_type == PROBLEM
    assert [e["field"] for e in response.json["errors"]] == ["policy_version"]
    assert response.json["current_policy_version"] == POLICY_VERSION
    assert response.json["notice_url"] == NOTICE
    assert history(client, cardholder) == []
    assert client.get(CONSENT, headers=cardholder).json["promotions_enabled"] is False


def test_changing_categories_names_the_notice_too(client, cardholder):
    put(client, cardholder, promotions_enabled=True, categories=["dining"],
        policy_version=POLICY_VERSION)
    response = put(client, cardholder, promotions_enabled=True, categories=["travel"])
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "policy_version"
    assert client.get(CONSENT, headers=cardholder).json["categories"] == ["dining"]
    assert len(history(client, cardholder)) == 1


def test_an_answer_to_an_old_notice_is_a_409_with_the_current_version(client, cardholder,
                                                                        session):
    publish_notice(session, "2026-12", "2026-11-30")
    response = put(client, cardholder, promotions_enabled=True, categories=["dining"],
                   policy_version=POLICY_VERSION)
    assert response.status_code == 409 and response.content_type == PROBLEM
    assert response.json["current_policy_version"] == "2026-12"
    assert history(client, cardholder) == []
    assert put(client, cardholder, promotions_enabled=True, categories=["dining"],
               policy_version="2026-12").status_code == 200
    consent = client.get(CONSENT, headers=cardholder).json
    assert consent["policy_version"] == consent["current_policy_version"] == "2026-12"
    assert [e["policy_version"] for e in history(client, cardholder)] == ["2026-12"]


def test_agreeing_again_to_a_new_notice_is_recorded(client, cardholder, session):
    put(client, cardholder, promotions_enabled=True, categories=["dining"],
        policy_version=POLICY_VERSION)
    publish_notice(session, "2026-12", "2026-11-30")
    stale = client.get(CONSENT, headers=cardholder).json
    # What an app compares to know it should show the new notice:
    assert (stale["policy_version"], stale["current_policy_version"]) == (POLICY_VERSION,
                                                                         "2026-12")
    put(client, cardholder, promotions_enabled=True, categories=["dining"],
        policy_version="2026-12")
    assert [(e["action"], e["policy_version"]) for e in history(client, cardholder)] == [
        ("granted", POLICY_VERSION), ("changed", "2026-12")]


@pytest.mark.parametrize(("named", "recorded"), [
    (None, None), (POLICY_VERSION, POLICY_VERSION), ("1999-01", None), ("x" * 32, None),
])
def test_a_withdrawal_is_never_refused(client, cardholder, session, named, recorded):
    put(client, cardholder, promotions_enabled=True, categories=["dining"],
        policy_version=POLICY_VERSION)
    publish_notice(session, "2026-12", "2026-11-30")  # the one agreed to is now outdated
    body = {"promotions_enabled": False, **({"policy_version": named} if named else {})}
    response = client.put(CONSENT, headers=cardholder, json=body)
    assert response.status_code == 200 and response.json["promotions_enabled"] is False
    withdrawal = history(client, cardholder)[-1]
    assert withdrawal["action"] == "withdrawn" and withdrawal["policy_version"] == recorded


def test_the_notices_and_the_rules_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    assert {"/api/v1/privacy/notices/promotions",
            "/api/v1/privacy/notices/promotions/{version}"} <= set(spec["paths"])
    put_doc = spec["paths"]["/api/v1/me/consent"]["put"]
    assert {"409", "422"} <= set(put_doc["responses"])
    notice = spec["paths"]["/api/v1/privacy/notices/promotions"]["get"]
    assert notice["responses"]["200"]


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
    put(client, cardholder, promotions_enabled=True, categories=["dining"],
        policy_version=POLICY_VERSION)
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
    # Nothing per-user existed: today's viewer token names no one and stays to be counted.
    assert session.execute(text("SELECT count(*) FROM offer_day_viewers")).scalar() == 1
    # The choice itself is not offer activity: it stays until the cardholder changes it.
    assert client.get(CONSENT, headers=headers).json["promotions_enabled"] is True
