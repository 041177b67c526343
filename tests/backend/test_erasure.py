"""Erasure on request: one DELETE removes the cardholder, every token dies, and afterwards
nothing in the database links to their e-mail address or user id; the consent ledger stays,
naming no one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from backend.offers import reach
from tests.backend.offer_factories import (  # noqa: F401 (a fixture)
    PROBLEM,
    OfferWorld,
    fast_password_hashing,
)
from tests.backend.test_privacy_scan import dump_database
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
ME = "/api/v1/me"
HERE = (51.5007, -0.1246)


@pytest.fixture
def world(client, login):
    return OfferWorld(client, login)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(client, email: str) -> dict:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200
    return response.json


def stale_access_token(client, tokens: dict) -> str:
    """An access token from a refresh: valid, but not fresh."""
    response = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 200
    return response.json["access_token"]


def columns_referencing_users(session) -> list[tuple[str, str]]:
    """Every (table, column) with a foreign key to users.id."""
    return session.execute(text("""
        SELECT c.conrelid::regclass::text, a.attname
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
        WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass
        ORDER BY 1, 2""")).all()


def test_erasure_leaves_nothing_that_links_to_the_person(world, client, make_user, session):
    merchant = world.merchant()
    store = world.store(merchant, 51.5034, -0.1246)
    world.offer(merchant, [store], title="Lunch")
    user = make_user("cardholder", display_name="Ada Lovelace", card_tier="gold")
    email, public_id, user_id = user.email, str(user.public_id), user.id
    first, second = sign_in(client, email), sign_in(client, email)
    headers = bearer(first["access_token"])
    world.set_consent(headers, True, ["dining", "cafes"])
    world.set_consent(headers, True, ["dining"])
    assert len(world.nearby(headers, *HERE).json["features"]) == 1
    client.post("/api/v1/auth/logout", headers=bearer(second["refresh_token"]))
    bystander = world.cardholder()  # someone else, whose traces must stay
    assert len(world.nearby(bystander, *HERE).json["features"]) == 1
    before = dump_database(session)
    assert email in before and public_id in before and "Ada Lovelace" in before  # control
    ledger_before = session.execute(text(
        "SELECT recorded_at, action, categories, policy_version, channel FROM consent_events "
        "WHERE user_id = :id ORDER BY id"), {"id": user_id}).all()
    assert len(ledger_before) == 2

    response = client.delete(ME, headers=headers)  # fresh: straight from a login
    assert response.status_code == 204

    after = dump_database(session)
    for trace in (email, email.lower(), email.upper(), public_id, "Ada Lovelace"):
        assert trace not in after
    assert session.execute(text("SELECT count(*) FROM users WHERE id = :id"),
                           {"id": user_id}).scalar() == 0
    for table, column in columns_referencing_users(session):
        linked = session.execute(text(f'SELECT count(*) FROM "{table}" WHERE "{column}" = :id'),
                                 {"id": user_id}).scalar()
        assert linked == 0, f"{table}.{column} still holds the erased user id"
    # Today's key still exists, yet no token can be recomputed from the user id any more.
    tokens = {bytes(v) for v in session.scalars(text("SELECT viewer FROM offer_day_viewers"))}
    assert len(tokens) == 1  # the bystander's
    day_keys = session.scalars(text("SELECT key FROM offer_day_keys")).all()
    assert day_keys
    for key in day_keys:
        for offer_id in session.scalars(text("SELECT id FROM offers")):
            assert reach.viewer_token(key, user_id, offer_id) not in tokens
    # The ledger stays as proof that consent existed, grouped under a random id, naming no one.
    kept = session.execute(text(
        "SELECT recorded_at, action, categories, policy_version, channel, user_id, "
        "erased_subject FROM consent_events WHERE erased_subject IS NOT NULL ORDER BY id")).all()
    assert [tuple(row[:5]) for row in kept] == [tuple(row) for row in ledger_before]
    assert {row.user_id for row in kept} == {None}
    assert len({row.erased_subject for row in kept}) == 1
    assert str(kept[0].erased_subject) != public_id


def test_every_token_of_the_account_stops_working(client, make_user):
    user = make_user("cardholder")
    first, second = sign_in(client, user.email), sign_in(client, user.email)
    stale = stale_access_token(client, second)
    assert client.delete(ME, headers=bearer(first["access_token"])).status_code == 204
    for token in (first["access_token"], second["access_token"], stale):
        for method, path in (("get", ME), ("get", f"{ME}/data"), ("get", f"{ME}/consent"),
                             ("delete", ME)):
            response = getattr(client, method)(path, headers=bearer(token))
            assert response.status_code == 401 and response.content_type == PROBLEM
    for refresh in (first["refresh_token"], second["refresh_token"]):
        assert client.post("/api/v1/auth/refresh", headers=bearer(refresh)).status_code == 401
    # The export of a deleted account is impossible, and so is signing in again.
    assert client.get(f"{ME}/data", headers=bearer(first["access_token"])).json["detail"] == \
        "The account no longer exists."
    assert client.post("/api/v1/auth/login", json={"email": user.email,
                                                   "password": PASSWORD}).status_code == 401


def test_a_stale_token_needs_the_password_again(client, make_user, session):
    user = make_user("cardholder")
    stale = bearer(stale_access_token(client, sign_in(client, user.email)))
    missing = client.delete(ME, headers=stale)
    assert missing.status_code == 401 and missing.content_type == PROBLEM
    assert missing.json["type"].endswith("/confirmation-required")
    assert missing.json["errors"] == [{"field": "password", "message": "Required."}]
    wrong = client.delete(ME, headers=stale, json={"password": "not the password"})
    assert wrong.status_code == 401 and wrong.json["errors"][0]["message"] == "Wrong password."
    assert client.get(ME, headers=stale).status_code == 200  # nothing happened
    assert client.delete(ME, headers=stale, json={"password": PASSWORD}).status_code == 204
    assert session.execute(text("SELECT count(*) FROM users WHERE id = :id"),
                           {"id": user.id}).scalar() == 0


def test_a_login_token_is_fresh_only_for_a_few_minutes(app, client, make_user, session):
    from flask_jwt_extended import decode_token

    user = make_user("cardholder")
    tokens = sign_in(client, user.email)
    with app.app_context():
        claims = decode_token(tokens["access_token"])
    fresh_until = datetime.fromtimestamp(claims["fresh"], UTC)
    assert timedelta(minutes=4) < fresh_until - datetime.now(UTC) <= timedelta(minutes=5)


@pytest.mark.parametrize("body", [{"password": ""}, {"password": PASSWORD, "email": "x@y.z"}])
def test_a_malformed_erasure_request_is_a_400_and_changes_nothing(client, make_user, body):
    user = make_user("cardholder")
    headers = bearer(sign_in(client, user.email)["access_token"])
    response = client.delete(ME, headers=headers, json=body)
    assert response.status_code == 400 and response.content_type == PROBLEM
    assert client.get(ME, headers=headers).status_code == 200


@pytest.mark.parametrize("role", ["merchant", "reviewer", "maintainer", "admin"])
def test_erasure_on_request_is_for_cardholders(client, auth_headers, role):
    # Staff and merchant accounts carry business records (uploads, reviews, offers) and are
    # closed by the bank, not by one request.
    headers = auth_headers(role)
    assert client.delete(ME, headers=headers).status_code == 403
    assert client.get(ME, headers=headers).status_code == 200


def test_the_ledger_can_forget_whose_it_is_and_nothing_else(client, world, session):
    headers = world.cardholder()
    user_id = session.execute(text("SELECT max(user_id) FROM consent_events")).scalar_one()
    for statement in ("UPDATE consent_events SET channel = 'web'",
                      "UPDATE consent_events SET user_id = NULL, channel = 'web'"):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(statement))
    assert client.delete(ME, headers=headers).status_code == 204
    # Once anonymous, an entry can never be given back to anyone.
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("UPDATE consent_events SET user_id = :id, erased_subject = NULL "
                             "WHERE user_id IS NULL"), {"id": user_id})


def test_erasure_is_documented_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/me"]["delete"]
    assert "204" in operation["responses"] and "401" in operation["responses"]
    assert operation["requestBody"]["required"] is False  # a fresh token needs no body
    assert "password" in spec["components"]["schemas"]["Erase"]["properties"]


def test_guessing_the_password_through_erasure_is_rate_limited(app, client, make_user):
    from backend.extensions import limiter

    user = make_user("cardholder")
    stale = bearer(stale_access_token(client, sign_in(client, user.email)))
    app.config["AUTH_RATE_LIMIT"] = "3 per minute"
    limiter.reset()
    try:
        codes = [client.delete(ME, headers=stale, json={"password": "guess"}).status_code
                 for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        assert client.get(ME, headers=stale).status_code == 200  # reading is not limited
    finally:
        app.config["AUTH_RATE_LIMIT"] = "10000 per minute"
        limiter.reset()
