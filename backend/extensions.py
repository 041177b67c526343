"""Extensions, created unbound and initialised in create_app."""

from functools import partial, wraps

import flask_smorest
from flask import Flask, current_app
from flask.globals import request_ctx
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


def limiter_only_where_named(app: Flask) -> None:
    """Keep flask-limiter's per-request hooks off the requests that no limit applies to.

    Every limit here is named on its view (`limiter.limit(...)` in the view's decorators), and
    such a view checks its limit itself. flask-limiter's before_request hook is for default and
    application-wide limits, which this app has none of, yet it costs every request (public
    reads and /healthz) about as much as the rest of the framework's hooks together: without
    those limits configured it is removed, and the after-request (headers) and teardown hooks
    run only on requests where a limit was checked.
    """
    if app.config.get("RATELIMIT_DEFAULT") or app.config.get("RATELIMIT_APPLICATION") \
            or app.config.get("RATELIMIT_DEFAULTS_PER_METHOD"):
        return
    befores = app.before_request_funcs[None]
    befores[:] = [f for f in befores if f != limiter._check_request_limit]
    afters = app.after_request_funcs[None]
    afters[:] = [_when_limited(f) if isinstance(f, partial) and f.args == (limiter,) else f
                 for f in afters]
    teardowns = app.teardown_request_funcs[None]
    teardowns[:] = [_when_limited(f) if getattr(f, "__self__", None) is limiter else f
                    for f in teardowns]


def _when_limited(hook):
    @wraps(hook)
    def run_if_a_limit_was_checked(arg):
        # flask-limiter keeps its per-request state on the request context once it checked.
        if hasattr(request_ctx._get_current_object(), "_limiter_request_context"):
            return hook(arg)
        return arg

    return run_if_a_limit_was_checked


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
