"""Login, refresh, logout revocation, expiry, roles and the `flask users` command."""

from __future__ import annotations

import csv
import itertools
import uuid
from datetime import timedelta

import pytest
from flask_jwt_extended import create_access_token, create_refresh_token

from tests.conftest import PASSWORD

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_401(response, detail_part: str) -> None:
    assert response.status_code == 401
    assert response.content_type == PROBLEM
    assert response.json["status"] == 401
    assert detail_part in response.json["detail"]


def test_login_me_refresh_logout_lifecycle(client, make_user):
    user = make_user("cardholder", card_tier="gold", display_name="Ada")
    tokens = client.post("/api/v1/auth/login",
                         json={"email": user.email.upper(), "password": PASSWORD}).json
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 15 * 60
    me = client.get("/api/v1/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json == {"id": str(user.public_id), "email": user.email, "role": "cardholder",
                       "display_name": "Ada", "card_tier": "gold"}

    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200 and "refresh_token" not in refreshed.json
    new_access = refreshed.json["access_token"]
    assert client.get("/api/v1/me", headers=bearer(new_access)).status_code == 200

    assert client.post("/api/v1/auth/logout", headers=bearer(new_access)).status_code == 204
    # The whole login session is revoked: both access tokens and the refresh token.
    for token in (tokens["access_token"], new_access):
        assert_401(client.get("/api/v1/me", headers=bearer(token)), "revoked")
    assert_401(client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"])),
               "revoked")


def test_logout_with_the_refresh_token_also_ends_the_session(client, login):
    tokens = login("cardholder")
    assert client.post("/api/v1/auth/logout",
                       headers=bearer(tokens["refresh_token"])).status_code == 204
    assert_401(client.get("/api/v1/me", headers=bearer(tokens["access_token"])), "revoked")


def test_another_login_session_survives_a_logout(client, make_user):
    user = make_user("merchant")
    first = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    second = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    client.post("/api/v1/auth/logout", headers=bearer(first.json["access_token"]))
    assert client.get("/api/v1/me",
                      headers=bearer(second.json["access_token"])).status_code == 200


@pytest.mark.parametrize("body", [
    {"email": "nobody@example.com", "password": PASSWORD},
    {"email": "known", "password": "wrong password"},
])
def test_wrong_credentials_get_the_same_401(client, make_user, body):
    user = make_user("cardholder")
    if body["email"] == "known":
        body = {**body, "email": user.email}
    response = client.post("/api/v1/auth/login", json=body)
    assert_401(response, "Wrong e-mail address or password")


@pytest.mark.parametrize(("body", "field"), [
    ({"password": "x"}, "email"),
    ({"email": "a@example.com"}, "password"),
    ({"email": "a@example.com", "password": "x", "role": "admin"}, "role"),
])
def test_malformed_login_is_a_400(client, body, field):
    response = client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 400
    assert response.content_type == PROBLEM
    assert field in [e["field"] for e in response.json["errors"]]


def test_missing_garbled_and_wrong_type_tokens_are_401(client, login):
    tokens = login("cardholder")
    assert_401(client.get("/api/v1/me"), "bearer token is required")
    assert_401(client.get("/api/v1/me", headers=bearer("not.a.jwt")), "not valid")
    tampered = tokens["access_token"][:-4] + ("AAAA" if not tokens["access_token"].endswith(
        "AAAA") else "BBBB")
    assert_401(client.get("/api/v1/me", headers=bearer(tampered)), "not valid")
    assert_401(client.get("/api/v1/me", headers=bearer(tokens["refresh_token"])), "not valid")
    assert_401(client.post("/api/v1/auth/refresh", headers=bearer(tokens["access_token"])),
               "not valid")


def test_expired_tokens_are_refused(app, client, make_user):
    user = make_user("cardholder")
    claims = {"role": "cardholder", "sid": str(uuid.uuid4())}
    with app.app_context():
        access = create_access_token(str(user.id), additional_claims=claims,
                                     expires_delta=timedelta(seconds=-1))
        refresh = create_refresh_token(str(user.id), additional_claims=claims,
                                       expires_delta=timedelta(seconds=-1))
    assert_401(client.get("/api/v1/me", headers=bearer(access)), "expired")
    assert_401(client.post("/api/v1/auth/refresh", headers=bearer(refresh)), "expired")


def test_token_signed_with_another_key_is_refused(app, client, make_user):
    import jwt as pyjwt

    user = make_user("admin")
    forged = pyjwt.encode({"sub": str(user.id), "role": "admin", "sid": str(uuid.uuid4()),
                           "type": "access", "jti": "x", "fresh": False,
                           "iat": 1_800_000_000, "nbf": 1_800_000_000, "exp": 4_000_000_000},
                          "some-other-secret-that-is-long-enough-for-hs256", algorithm="HS256")
    assert_401(client.get("/api/v1/me", headers=bearer(forged)), "not valid")


def test_token_of_a_deleted_user_is_refused(session, client, login):
    from backend.accounts.models import User

    tokens = login("cardholder")
    user = session.query(User).filter_by(role="cardholder").one()
    user.is_active = False
    session.flush()
    assert_401(client.get("/api/v1/me", headers=bearer(tokens["access_token"])), "no longer")


def test_cli_creates_users_and_refuses_bad_ones(runner, session):
    from backend.accounts.service import authenticate

    result = runner.invoke(args=["users", "create", "--email", "m@example.com", "--role",
                                 "maintainer", "--password", "long enough pw"])
    assert result.exit_code == 0, result.output
    assert "created maintainer m@example.com" in result.output
    assert authenticate(session, "m@example.com", "long enough pw").role == "maintainer"

    again = runner.invoke(args=["users", "create", "--email", "M@example.com", "--role",
                                "maintainer", "--password", "long enough pw"])
    assert again.exit_code != 0 and "exists" in again.output
    quiet = runner.invoke(args=["users", "create", "--email", "m@example.com", "--role",
                                "maintainer", "--password", "long enough pw", "--if-missing"])
    assert quiet.exit_code == 0 and "exists already" in quiet.output
    bad = runner.invoke(args=["users", "create", "--email", "x@example.com", "--role", "king",
                              "--password", "short"])
    assert bad.exit_code != 0
    assert "role" in bad.output and "password" in bad.output


def test_cli_loads_the_sample_in_both_formats_idempotently(runner, session):
    from tests.conftest import SAMPLE_CSV, SAMPLE_GEOJSON

    first = runner.invoke(args=["places", "load", str(SAMPLE_CSV)])
    assert first.exit_code == 0, first.output
    assert "400 inserted, 0 updated" in first.output
    second = runner.invoke(args=["places", "load", str(SAMPLE_GEOJSON)])
    # The same places in the other format: nothing to change.
    assert "0 inserted, 0 updated, 400 unchanged" in second.output
    skipped = runner.invoke(args=["places", "load", str(SAMPLE_CSV), "--if-empty"])
    assert "nothing loaded" in skipped.output


def test_cli_refuses_a_file_with_a_bad_record_and_loads_nothing(runner, session, tmp_path):
    from backend.uploads.loader import count_places
    from tests.conftest import SAMPLE_CSV

    with SAMPLE_CSV.open(encoding="utf-8-sig", newline="") as stream:
        header, first, second = itertools.islice(csv.reader(stream), 3)
    second[header.index("lat")] = "north-ish"
    path = tmp_path / "bad.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([header, first, second])
    before = count_places(session)
    result = runner.invoke(args=["places", "load", str(path)])
    assert result.exit_code != 0
    assert "row 3: lat: not a coordinate" in result.output
    assert count_places(session) == before


def test_password_guessing_is_rate_limited_per_address(app, client, make_user):
    from backend.extensions import limiter

    user = make_user("cardholder")
    app.config["AUTH_RATE_LIMIT"] = "3 per minute"
    limiter.reset()
    try:
        codes = [client.post("/api/v1/auth/login",
                             json={"email": user.email, "password": "wrong guess"}).status_code
                 for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        blocked = client.post("/api/v1/auth/login",
                              json={"email": user.email, "password": PASSWORD})
        assert blocked.status_code == 429 and blocked.content_type == PROBLEM
        other = client.post("/api/v1/auth/login", environ_base={"REMOTE_ADDR": "127.0.0.2"},
                            json={"email": user.email, "password": PASSWORD})
        assert other.status_code == 200
    finally:
        app.config["AUTH_RATE_LIMIT"] = "10000 per minute"
        limiter.reset()
