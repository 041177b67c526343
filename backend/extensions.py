"""Extensions, created unbound and initialised in create_app."""

import flask_smorest
from flask import current_app
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from backend.db import Database
from backend.errors import ProblemApi
from backend.guards import StrictParser

db = Database()
jwt = JWTManager()
api = ProblemApi()
# Per client address (the real client's: ProxyFix behind the front), counted in Redis
# (RATELIMIT_STORAGE_URI from REDIS_URL) so every worker and host shares the counts. Only the
# endpoints that name a limit use it: public reads never touch Redis.
limiter = Limiter(key_func=get_remote_address)


def auth_rate_limit() -> str:
    """The rate limit of login and sign-up (AUTH_RATE_LIMIT), read per request."""
    return current_app.config["AUTH_RATE_LIMIT"]


class _Parser(StrictParser):
    # Invalid input is a 400 with a problem+json body (see ProblemApi), also in the OpenAPI.
    DEFAULT_VALIDATION_STATUS = 400


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest Blueprint whose argument errors are documented and answered as 400."""

    ARGUMENTS_PARSER = _Parser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }
