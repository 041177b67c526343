"""Request-level guards: what every request must satisfy before a view or a schema sees it.

- Body size: JSON bodies at most MAX_JSON_BYTES, upload requests at most MAX_UPLOAD_BYTES;
  a declared Content-Length over the limit is a 413 before one byte of the body is read, and a
  chunked body stops being read at the limit (413 as well).
- Query strings: at most MAX_QUERY_BYTES, valid UTF-8, no NUL, each parameter at most once.
- JSON bodies: valid UTF-8, nested at most MAX_JSON_DEPTH deep (checked on the text, without
  recursion, before the parser builds anything), no NaN or infinity, integers within bigint,
  and no string (key or value) with a NUL or an unpaired surrogate.
- Numbers given as text (query strings, form fields, JSON strings for number fields) are ASCII
  decimal only: Python's int() and float() also read full-width and Arabic-Indic digits,
  underscores and surrounding spaces.
- The database as a dependency: when it cannot be reached, a 503 with Retry-After and one log
  line (the exception's class, never its text, which can hold query parameters).
- Response headers: `nosniff` everywhere, `no-store` on tokens and personal responses.

Errors name the field and say why; they never echo the value.
"""

from __future__ import annotations

import json
import logging
import math
import re
from typing import Any
from urllib.parse import unquote_to_bytes

import marshmallow as ma
import psycopg
from flask import Flask, Response, current_app, request
from sqlalchemy import exc as sa_exc
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from backend.errors import (
    FIELD_NAME,
    BadRequest,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    UriTooLong,
    field_error,
    problem,
)

log = logging.getLogger(__name__)

# Endpoints whose body is a file (multipart) and so has the upload limit instead of the JSON one.
FILE_ENDPOINTS = frozenset({"uploads.Uploads"})
# Where no-store applies even without an Authorization header: tokens are issued here.
_PERSONAL_PREFIXES = ("/api/v1/auth/", "/api/v1/me")

BIGINT = 2**63 - 1
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}", re.ASCII)
_DECIMAL = re.compile(
    r"[+-]?(?:[0-9]{1,40}(?:\.[0-9]{0,40})?|\.[0-9]{1,40})(?:[eE][+-]?[0-9]{1,3})?", re.ASCII)
# Nesting depth is measured on the text, in linear time: drop escapes, then string literals,
# then everything that is not a bracket. (One regex for "a string with escapes" backtracks
# quadratically on a body of unterminated escaped quotes.)
_ESCAPE = re.compile(r"\\.", re.S)
_STRING = re.compile(r'"[^"]*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _named(name: str, otherwise: str) -> str:
    """A client-sent parameter name, repeated only when it looks like one (docs/api.md)."""
    return name if FIELD_NAME.fullmatch(name) else otherwise


def _invalid(field: str, message: str, location: str, detail: str = "The request has invalid "
             "fields.") -> BadRequest:
    return BadRequest(detail, [field_error(field, message, location)])


# --- text and numbers -------------------------------------------------------------------------

# What a query string needs decoded before it can be checked: escapes, "+" and NUL.
_ENCODED_OR_NUL = re.compile(rb"[%+\x00]")


def text_problem(value: str) -> str | None:
    """Why a string cannot be accepted (NUL, unpaired surrogate), or None."""
    if "\x00" in value:
        return "Must not contain the NUL character."
    if _SURROGATE.search(value):
        return "Must not contain unpaired surrogates (not valid Unicode)."
    return None


def ascii_float(text: str) -> float:
    """A finite number written in ASCII decimal (`51.5`, `-0.1`, `1e3`).

    :raises ValueError: for anything else, full-width or other non-ASCII digits included.
    """
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        raise ValueError("not an ASCII decimal number")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _number_problem(field: ma.fields.Field, value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    if isinstance(field, ma.fields.Integer):
        return None if _INTEGER.fullmatch(value) else "Must be an integer in ASCII digits."
    return None if _DECIMAL.fullmatch(value) else "Must be a decimal number in ASCII digits."


def _check_number_fields(schema: ma.Schema, data: Any, location: str, prefix: str = "") -> None:
    """Numbers given as text to number fields, in `data` and its nested objects, are ASCII."""
    if not hasattr(data, "get"):
        return
    for name, field in schema.fields.items():
        key = field.data_key or name
        value = data.get(key)
        if value is None:
            continue
        path = f"{prefix}{key}"
        if isinstance(field, ma.fields.Number):
            message = _number_problem(field, value)
            if message:
                raise _invalid(path, message, location)
        elif isinstance(field, ma.fields.Nested) and isinstance(field.schema, ma.Schema):
            items = value if field.many and isinstance(value, list) else [value]
            for index, item in enumerate(items):
                sub = f"{path}.{index}." if field.many else f"{path}."
                _check_number_fields(field.schema, item, location, sub)
        elif isinstance(field, ma.fields.List) and isinstance(field.inner, ma.fields.Nested) \
                and isinstance(value, list):
            for index, item in enumerate(value):
                _check_number_fields(field.inner.schema, item, location, f"{path}.{index}.")


# --- JSON bodies ------------------------------------------------------------------------------

def _too_deep(text: str, limit: int) -> bool:
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", _ESCAPE.sub("", text)))
    depth = 0
    for char in brackets:
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _walk_problems(document: Any) -> tuple[str, str] | None:
    """The first (field path, message) of a value no field can take, without recursion."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                sub = f"{path}.{key}" if path else str(key)
                message = text_problem(key)
                if message:
                    return path or "_schema", "A key " + message[0].lower() + message[1:]
                stack.append((sub, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{index}" if path else str(index), item)
                         for index, item in enumerate(value))
        elif isinstance(value, str):
            message = text_problem(value)
            if message:
                return path or "_schema", message
        elif isinstance(value, float) and not math.isfinite(value):
            return path or "_schema", "Must be a finite number (no NaN or infinity)."
        elif type(value) is int and abs(value) > BIGINT:
            return path or "_schema", "Number out of range."
    return None


def load_json_body(raw: bytes) -> Any:
    """The JSON document in `raw`, checked as the module docstring says.

    :raises BadRequest: naming the offending field.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("_body", "The body is not valid UTF-8.", "json") from None
    if not text.strip():
        return core.missing
    limit = current_app.config["MAX_JSON_DEPTH"]
    if _too_deep(text, limit):
        raise _invalid("_body", f"JSON nested deeper than {limit} levels.", "json")
    try:
        document = json.loads(text, parse_constant=float)
    except (ValueError, RecursionError):
        raise _invalid("_body", "The body is not valid JSON.", "json") from None
    found = _walk_problems(document)
    if found:
        raise _invalid(found[0], found[1], "json")
    return document


# --- the webargs parser -----------------------------------------------------------------------

class StrictParser(FlaskParser):
    """webargs' Flask parser with the checks above on every location a schema reads."""

    # `multipart`: the fields and the files of one multipart/form-data body, read with one
    # schema, so that OpenAPI 3 documents them as one requestBody (uploads).
    __location_map__ = {**FlaskParser.__location_map__, "multipart": "load_multipart"}

    def load_multipart(self, req, schema):
        self.load_form(req, schema)  # the form's and the files' checks
        self.load_files(req, schema)
        return MultiDictProxy(CombinedMultiDict([req.form, req.files]), schema)

    def _raw_load_json(self, req):
        data = req.get_data(cache=True)
        limit = getattr(req, "body_limit", current_app.config["MAX_JSON_BYTES"])
        if len(data) > limit:
            raise PayloadTooLarge(f"The body is larger than this endpoint accepts ({limit} "
                                  "bytes).", limit_bytes=limit)
        if not is_json_request(req):
            if data:
                raise UnsupportedMediaType("Send the body as application/json.")
            return core.missing
        # webargs loads the body once per schema; the checks run once per request.
        if not hasattr(req, "_checked_json"):
            req._checked_json = load_json_body(data)
        return req._checked_json

    def load_json(self, req, schema):
        data = super().load_json(req, schema)
        _check_number_fields(schema, data, "json")
        return data

    def load_querystring(self, req, schema):
        _check_number_fields(schema, req.args, "query")
        return super().load_querystring(req, schema)

    def load_form(self, req, schema):
        for key, value in req.form.items(multi=True):
            message = text_problem(value) or text_problem(key)
            if message:
                raise _invalid(_named(key, "_form"), message, "form")
        _check_number_fields(schema, req.form, "form")
        return super().load_form(req, schema)

    def load_files(self, req, schema):
        for key, upload in req.files.items(multi=True):
            if upload.filename and text_problem(upload.filename):
                raise _invalid(key, "The file name " + text_problem(upload.filename)[0].lower()
                               + text_problem(upload.filename)[1:], "files")
        return super().load_files(req, schema)


# --- before and after every request -----------------------------------------------------------

def _check_query_string() -> None:
    raw = request.query_string
    if len(raw) > current_app.config["MAX_QUERY_BYTES"]:
        raise UriTooLong(f"The query string is longer than "
                         f"{current_app.config['MAX_QUERY_BYTES']} bytes.")
    if raw.isascii() and not _ENCODED_OR_NUL.search(raw):
        # Plain ASCII with nothing escaped (the common case): every name and value is valid
        # text as it stands; only a repeated name is left to find.
        names = [part.partition(b"=")[0] for part in raw.split(b"&") if part]
        if len(set(names)) == len(names):
            return
    seen: set[str] = set()
    for part in raw.split(b"&"):
        if not part:
            continue
        raw_key, _, raw_value = part.partition(b"=")
        try:
            key = unquote_to_bytes(raw_key.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid("_query", "A parameter name is not valid UTF-8.", "query") from None
        if text_problem(key):
            raise _invalid("_query", "A parameter name " + text_problem(key)[0].lower()
                           + text_problem(key)[1:], "query")
        try:
            value = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid(_named(key, "_query"), "Not valid UTF-8.", "query") from None
        message = text_problem(value)
        if message:
            raise _invalid(_named(key, "_query"), message, "query")
        if key in seen:
            raise _invalid(_named(key, "_query"), "Given more than once; give each parameter "
                           "once.", "query")
        seen.add(key)


def _limit_body() -> None:
    name = "MAX_UPLOAD_BYTES" if request.endpoint in FILE_ENDPOINTS else "MAX_JSON_BYTES"
    limit = current_app.config[name]
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"The body is larger than this endpoint accepts ({limit} bytes).",
                              limit_bytes=limit)
    # A chunked body has no length up front: werkzeug stops reading it one byte past the
    # limit, and whoever reads it (the JSON loader, the form parser) answers 413.
    request.max_content_length = limit + 1
    request.body_limit = limit
    if request.endpoint in FILE_ENDPOINTS:
        request.max_form_memory_size = current_app.config["MAX_JSON_BYTES"]


def _guard_request() -> None:
    # Every request pays for this hook: what has nothing to check (no body, no query string:
    # /healthz, say) is let through on two look-ups in the WSGI environment.
    environ = request.environ
    if environ.get("CONTENT_LENGTH", "0") not in ("", "0") \
            or "HTTP_TRANSFER_ENCODING" in environ:
        _limit_body()
    if environ.get("QUERY_STRING"):
        _check_query_string()


def _security_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Tokens, anything answered to a signed-in user, and every answer to a write (merchant
    # sign-up echoes an e-mail address) stay out of every cache. Public place data may be cached.
    environ = request.environ
    if "HTTP_AUTHORIZATION" in environ or request.path.startswith(_PERSONAL_PREFIXES) \
            or environ.get("REQUEST_METHOD") not in ("GET", "HEAD", "OPTIONS"):
        response.headers["Cache-Control"] = "no-store"
    return response


# --- the database as a dependency -------------------------------------------------------------

DATABASE_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
                   sa_exc.DisconnectionError, psycopg.OperationalError, psycopg.InterfaceError)


def database_unavailable() -> Response:
    """503 problem+json with Retry-After: the database cannot be reached."""
    response = problem(503, ServiceUnavailable.title,
                       "The database cannot be reached; try again shortly.",
                       ServiceUnavailable.type)
    response.headers["Retry-After"] = str(current_app.config["DB_RETRY_AFTER_SECONDS"])
    return response


def _database_error(error: Exception) -> Response:
    cause = getattr(error, "orig", None) or error
    sqlstate = getattr(cause, "sqlstate", None)
    # One line, no traceback, no message: the text can carry bound values.
    log.warning("database unavailable: %s%s on %s %s", type(cause).__name__,
                f" ({sqlstate})" if sqlstate else "", request.method,
                request.url_rule.rule if request.url_rule else "?")
    return database_unavailable()


def init_guards(app: Flask) -> None:
    """Install the guards, the security headers and the 503 for an unreachable database."""
    app.before_request(_guard_request)
    app.after_request(_security_headers)
    for error in DATABASE_ERRORS:
        app.register_error_handler(error, _database_error)
    app.register_error_handler(RequestEntityTooLarge, _too_large)


def _too_large(error: RequestEntityTooLarge) -> Response:
    # A chunked body (no Content-Length) that werkzeug stopped reading at the limit.
    limit = getattr(request, "body_limit", request.max_content_length)
    return problem(413, PayloadTooLarge.title,
                   f"The body is larger than this endpoint accepts ({limit} bytes).",
                   PayloadTooLarge.type, limit_bytes=limit)
