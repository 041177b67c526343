"""Login, refresh, logout and the signed-in user's profile."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask.views import MethodView
from flask_jwt_extended import (
    create_access_token,
    create_refresh_token,
    current_user,
    get_jwt,
    jwt_required,
)

from backend.accounts import schemas, service
from backend.accounts.auth import role_required
from backend.apidoc import status_name
from backend.extensions import Blueprint, auth_rate_limit, db, limiter
from backend.privacy import erasure

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Sign in and out.")
_BEARER = [{"bearerAuth": []}]


def _claims(user, sid: str) -> dict:
    return {"role": user.role, "sid": sid}


# An access token straight from a login with the password counts as fresh this long: enough to
# confirm erasure without typing the password again.
FRESH_FOR = timedelta(minutes=5)


def _access_token(user, sid: str, fresh: bool | timedelta = False) -> dict:
    token = create_access_token(identity=str(user.id), additional_claims=_claims(user, sid),
                                fresh=fresh)
    lifetime = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return {"access_token": token, "token_type": "Bearer",
            "expires_in": int(lifetime.total_seconds())}


def _is_fresh(claims: dict) -> bool:
    """Whether the token came from a login with the password and is still within FRESH_FOR."""
    fresh = claims.get("fresh", False)
    if isinstance(fresh, bool):
        return fresh
    return datetime.now(UTC).timestamp() <= float(fresh)


@blp.route("/auth/login")
class Login(MethodView):
    decorators = [limiter.limit(auth_rate_limit)]

    @blp.arguments(schemas.LoginSchema, example={"email": "cardholder@example.com",
                                                 "password": "correct horse battery"})
    @blp.response(200, schemas.TokensSchema, example={
        "access_token": "eyJhbGciOiJIUzI1NiJ9...", "refresh_token": "eyJhbGciOiJIUzI1NiJ9...",
        "token_type": "Bearer", "expires_in": 900})
    @blp.alt_response(401, description="Wrong e-mail address or password.")
    @blp.alt_response(429, response=status_name(429))
    def post(self, args):
        """Exchange credentials for an access token and a refresh token.

        No token needed. Limited per client address (AUTH_RATE_LIMIT); a wrong e-mail
        address and a wrong password give the same 401. Send the access token as
        `Authorization: Bearer ...`.
        """
        user = service.authenticate(db.session, args["email"], args["password"])
        sid = str(uuid.uuid4())  # one login session; logout revokes all its tokens
        tokens = _access_token(user, sid, fresh=FRESH_FOR)
        tokens["refresh_token"] = create_refresh_token(identity=str(user.id),
                                                       additional_claims=_claims(user, sid))
        return tokens


@blp.route("/auth/refresh")
class Refresh(MethodView):
    @jwt_required(refresh=True)
    @blp.response(200, schemas.TokensSchema)
    @blp.doc(security=_BEARER)
    def post(self):
        """A new access token for a valid refresh token (sent as the bearer token).

        Send the refresh token from login, not an access token. The new access token belongs
        to the same login session, so logout ends it too.
        """
        return _access_token(current_user, get_jwt()["sid"])


@blp.route("/auth/logout")
class Logout(MethodView):
    @jwt_required(verify_type=False)
    @blp.response(204)
    @blp.doc(security=_BEARER)
    def post(self):
        """End the login session: its access and refresh tokens stop working at once.

        Accepts the session's access or refresh token. Answers 204 with no body.
        """
        claims = get_jwt()
        # The refresh token outlives every access token of the session, so the revocation
        # can be forgotten once that lifetime has passed.
        refresh_lifetime = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
        expires_at = datetime.fromtimestamp(claims["iat"], UTC) + refresh_lifetime
        service.revoke_session(db.session, uuid.UUID(claims["sid"]), int(claims["sub"]),
                               expires_at)


@blp.route("/me")
class Me(MethodView):
    # DELETE checks a password: limited like login, so a stolen token cannot guess it.
    decorators = [limiter.limit(auth_rate_limit, methods=["DELETE"])]

    @jwt_required()
    @blp.response(200, schemas.MeSchema)
    @blp.doc(security=_BEARER)
    def get(self):
        """The signed-in user.

        Any role. The account's public id, e-mail address, role, display name and card tier.
        """
        return current_user

    @role_required("cardholder")
    @blp.arguments(schemas.EraseSchema, required=False)
    @blp.response(204)
    @blp.alt_response(401, description="Neither a fresh token nor the right password.")
    @blp.doc(security=_BEARER)
    def delete(self, args):
        """Delete your account and personal data; every token of the account stops working.

        Send `{"password": "..."}`, or call within a few minutes of logging in. The consent
        ledger is kept without anything that names you (proof that consent existed).
        """
        erasure.erase_cardholder(db.session, current_user, password=args.get("password"),
                                 fresh_token=_is_fresh(get_jwt()))
