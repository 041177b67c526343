"""Application errors and their RFC 9457 problem+json rendering."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import marshmallow as ma
from flask import Flask, Response, json
from flask_smorest import Api
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from backend.i18n import N_
from backend.i18n import gettext as _

PROBLEM_MIME = "application/problem+json"
PROBLEM_BASE = "https://nearbank.example/problems/"

log = logging.getLogger(__name__)
# What a field name looks like: only such client-sent names are repeated in an error.
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}", re.ASCII)


# Every problem title the API writes, for the catalogues: a title is sent in the request's
# language (Accept-Language); `type` is the stable identifier to compare, never the title.
ERROR_TITLES = (
    N_("Invalid request"), N_("Authentication required"), N_("Not allowed"), N_("Not found"),
    N_("Conflict"), N_("Service Unavailable"), N_("Internal Server Error"),
    N_("Geocoding unavailable"), N_("Place not found"), N_("Request body too large"),
    N_("Query string too long"), N_("Unsupported media type"), N_("Promotions are not enabled"),
    N_("Confirm it is you"), N_("Which notice was shown?"), N_("Bad Request"),
    N_("Unauthorized"), N_("Forbidden"),
    N_("Not Found"), N_("Method Not Allowed"), N_("Not Acceptable"), N_("Gone"),
    N_("Request Entity Too Large"), N_("Unsupported Media Type"),
    N_("Unprocessable Entity"), N_("Too Many Requests"), N_("Request Header Fields Too Large"),
)


class AppError(Exception):
    """An error that carries its HTTP status and problem type."""

    status = 500
    type = "about:blank"
    title = "Internal Server Error"
    # Response headers of this kind of error (Retry-After on a 503, say).
    headers: dict[str, str] = {}

    def __init__(self, detail: str | None = None, errors: Iterable[dict] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.extra = extra


class BadRequest(AppError):
    status, type, title = 400, PROBLEM_BASE + "validation", "Invalid request"


class Unauthorized(AppError):
    status, type, title = 401, PROBLEM_BASE + "unauthorized", "Authentication required"


class Forbidden(AppError):
    status, type, title = 403, PROBLEM_BASE + "forbidden", "Not allowed"


class NotFound(AppError):
    status, type, title = 404, PROBLEM_BASE + "not-found", "Not found"


class Conflict(AppError):
    status, type, title = 409, PROBLEM_BASE + "conflict", "Conflict"


class PayloadTooLarge(AppError):
    status, type, title = 413, PROBLEM_BASE + "too-large", "Request body too large"


class UriTooLong(AppError):
    status, type, title = 414, PROBLEM_BASE + "too-long", "Query string too long"


class UnsupportedMediaType(AppError):
    status, type, title = 415, PROBLEM_BASE + "unsupported-media-type", "Unsupported media type"


class ServiceUnavailable(AppError):
    status, type, title = 503, PROBLEM_BASE + "unavailable", "Service Unavailable"

    def __init__(self, detail: str, retry_after_s: int = 5) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after_s)}


class TooManyRequests(AppError):
    status, type, title = 429, PROBLEM_BASE + "rate-limited", "Too many requests"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(max(1, retry_after_s))}


def field_error(field: str, message: str, location: str | None = None) -> dict:
    """One entry of a problem's `errors` list."""
    entry = {"field": field, "message": message}
    if location:
        entry["in"] = location
    return entry


def problem(status: int, title: str, detail: str | None = None, type_: str = "about:blank",
            errors: list[dict] | None = None, **extra: Any) -> Response:
    """Build an application/problem+json response."""
    body: dict[str, Any] = {"type": type_, "title": _(title), "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_MIME)


def _flatten(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Turn marshmallow's nested message dicts into (dotted field, message) pairs."""
    if isinstance(messages, dict):
        pairs = []
        for key, value in messages.items():
            if value == ["Unknown field."] and not FIELD_NAME.fullmatch(str(key)):
                # The name is the client's, not ours: an unknown name is repeated only when it
                # looks like a field name, never when it could be a position or other data.
                key = "_unknown"
            name = f"{prefix}.{key}" if prefix else str(key)
            pairs.extend(_flatten(value, name))
        return pairs
    if isinstance(messages, list | tuple):
        pairs = []
        for item in messages:
            pairs.extend(_flatten(item, prefix) if isinstance(item, dict | list) else
                         [(prefix or "_schema", str(item))])
        return pairs
    return [(prefix or "_schema", str(messages))]


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details (documentation of every error response).

    A problem type may add members of its own (RFC 9457 section 3.2), as promotions-not-enabled
    does with `consent_url`: the schema admits them.
    """

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String()
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    errors = ma.fields.List(ma.fields.Dict(), metadata={
        "description": "Per-field problems: {field, message, in}."})


class ProblemApi(Api):
    """flask-smorest Api whose HTTP errors, validation errors included, are problem+json.

    Its OpenAPI document declares them so: see backend/apidoc.py.
    """

    ERROR_SCHEMA = ProblemSchema
    # No catch-all `default` response: each operation lists the error statuses it can answer.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _init_spec(self, *, extra_plugins=None, **options):  # type: ignore[override]
        from backend import apidoc

        super()._init_spec(extra_plugins=[*(extra_plugins or ()), apidoc.ContractPlugin()],
                           **options)
        self.ma_plugin.converter.add_attribute_function(apidoc.exclusive_bounds)

    def _register_responses(self) -> None:
        from backend import apidoc

        apidoc.register_problem_responses(self.spec, self.ERROR_SCHEMA)

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        data = getattr(error, "data", None) or {}
        messages = data.get("messages") or data.get("errors")
        if messages:
            errors = []
            for location, fields in messages.items():
                for field, message in _flatten(fields):
                    errors.append(field_error(field, message, location))
            return problem(400, "Invalid request", "The request has invalid fields.",
                           BadRequest.type, errors)
        return problem(error.code or 500, error.name, error.description)


def register_error_handlers(app: Flask, api: ProblemApi) -> None:
    """Render AppError and unexpected exceptions as problem+json."""

    @app.errorhandler(AppError)
    def _app_error(error: AppError) -> Response:
        response = problem(error.status, error.title, error.detail, error.type, error.errors,
                           **error.extra)
        response.headers.update(getattr(error, "headers", {}))
        return response

    @app.errorhandler(StaleDataError)
    def _changed_meanwhile(error: StaleDataError) -> Response:
        # A versioned row (an offer, a merchant) changed between reading and writing it.
        return problem(409, Conflict.title, "Someone else changed this at the same time; "
                       "load it again.", Conflict.type)

    import redis

    @app.errorhandler(redis.RedisError)
    def _shared_state_down(error: redis.RedisError) -> Response:
        # Rate-limit counts cannot be read: refuse the limited request (fail closed) rather
        # than let unlimited password guesses through. Reads that need no limit never get here.
        log.error("rate-limit storage unreachable: %s", type(error).__name__)
        response = problem(503, "Service Unavailable",
                           "This request is rate-limited and the limit cannot be checked right "
                           "now; try again shortly.")
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if isinstance(error, HTTPException):
            return api.handle_http_exception(error)
        # The exception text can hold SQL parameters (a query point, say): log only its type
        # and where it happened, never its message or the request's arguments.
        tb = error.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else "?"
        log.error("unhandled %s at %s", type(error).__name__, where)
        return problem(500, "Internal Server Error", "Something went wrong on our side.")

