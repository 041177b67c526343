"""JWT wiring: claims, revocation, role checks, and auth errors as problem+json."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from typing import Any

from flask import Flask
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from flask_smorest.utils import deepupdate

from backend.apidoc import BEARER, problem_response, status_name
from backend.errors import Forbidden, problem
from backend.extensions import db, jwt

_UNAUTHORIZED = "https://nearbank.example/problems/unauthorized"


def role_required(*roles: str) -> Callable:
    """Require a valid access token whose role is one of `roles`.

    :raises Forbidden: when the token's role is not allowed.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            verify_jwt_in_request()
            if get_jwt().get("role") not in roles:
                raise Forbidden("Your role may not do this.")
            return view(*args, **kwargs)

        # The OpenAPI document: a bearer token, and who may call it (see backend/apidoc.py).
        wrapper._apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
        wrapper._apidoc["manual_doc"] = deepupdate(deepcopy(wrapper._apidoc.get(
            "manual_doc", {})), {"security": BEARER, "responses": {
                "401": status_name(401),
                "403": problem_response(403, "The signed-in role is not one of: "
                                        + ", ".join(roles) + ".")}})
        return wrapper

    return decorator


def init_auth(app: Flask) -> None:
    """Register flask-jwt-extended callbacks."""
    from backend.accounts import service

    @jwt.token_in_blocklist_loader
    def _revoked(header: dict, payload: dict) -> bool:
        sid = payload.get("sid")
        return sid is None or service.is_session_revoked(db.session, uuid.UUID(sid))

    @jwt.user_lookup_loader
    def _user(header: dict, payload: dict):
        return service.get_user(db.session, int(payload["sub"]))

    def _unauthorized(detail: str):
        return problem(401, "Authentication required", detail, _UNAUTHORIZED)

    jwt.unauthorized_loader(lambda reason: _unauthorized("A bearer token is required."))
    jwt.invalid_token_loader(lambda reason: _unauthorized("The token is not valid."))
    jwt.expired_token_loader(lambda h, p: _unauthorized("The token has expired."))
    jwt.revoked_token_loader(lambda h, p: _unauthorized("The token has been revoked."))
    jwt.user_lookup_error_loader(lambda h, p: _unauthorized("The account no longer exists."))
    jwt.needs_fresh_token_loader(lambda h, p: _unauthorized("A fresh login is required."))
    jwt.token_verification_failed_loader(
        lambda h, p: _unauthorized("The token is not valid."))
