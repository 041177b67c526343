"""The OpenAPI contract's shared parts: one Problem schema for every error, and the error
statuses each operation can answer.

flask-smorest documents success responses and the 400 of argument parsing; this module adds
what every operation shares, so that no view has to repeat it:

- every error response is `application/problem+json` with the `Problem` schema
  (components/schemas/Problem), declared once as components/responses/<STATUS_NAME>;
- an operation with a path parameter can answer 404; one with a request body 413 and 415;
  one with query parameters 414;
  one that needs a token 401 (and 403 when `role_required` limits it to some roles); every
  operation needs the database and can answer 503 with `Retry-After`;
- path parameters are described from `PATH_PARAMETERS`.
"""

from __future__ import annotations

import decimal
import http
from typing import Any

from apispec import BasePlugin

PROBLEM_MIME = "application/problem+json"
PROBLEM_SCHEMA = "Problem"
BEARER = [{"bearerAuth": []}]

PATH_PARAMETERS = {
    "place_id": "Public id of a place, as `id` in a listing's features.",
    "store_id": "Id of one of your stores, as `id` in your store list.",
    "offer_id": "Id of an offer, as `id` in an offer list.",
    "merchant_id": "Id of a merchant, as `id` in the reviewers' merchant list.",
    "batch_id": "Id of an upload batch, as `id` in the upload list.",
    "branch_id": "Public id of a branch, as `id` in the branches' nearby search.",
    "ticket_id": "Id of one of your tickets, as `id` in your ticket list.",
    "version": "A notice version, as `version` or `current_version` in a notice.",
}

_RETRY_AFTER = {"Retry-After": {"description": "Seconds after which to try again.",
                                "schema": {"type": "integer", "minimum": 0}}}
_DESCRIPTIONS = {
    400: "The request has invalid fields; `errors` names each field and why.",
    401: "No bearer token, or one that is invalid, expired or revoked.",
    403: "The signed-in role may not do this.",
    404: "No such object, or not one of yours.",
    409: "The object's state does not allow this, or it changed meanwhile.",
    413: "The request body is larger than the configured limit.",
    414: "The query string is longer than the configured limit (`MAX_QUERY_BYTES`).",
    415: "The request body is not of the declared content type.",
    429: "Too many requests from this address; wait for `Retry-After` seconds.",
    503: "A dependency (the database) cannot be reached; try again after `Retry-After`.",
}
_HEADERS = {429: _RETRY_AFTER, 503: _RETRY_AFTER}


def status_name(status: int) -> str:
    """The component name of an error response: the status' name, as flask-smorest uses."""
    return http.HTTPStatus(status).name


def problem_response(status: int, description: str | None = None) -> dict:
    """An inline error response (own description) with the shared Problem schema."""
    response: dict[str, Any] = {
        "description": description or _DESCRIPTIONS.get(status, http.HTTPStatus(status).phrase),
        "content": {PROBLEM_MIME: {"schema": PROBLEM_SCHEMA}},
    }
    if status in _HEADERS:
        response["headers"] = dict(_HEADERS[status])
    return response


def register_problem_responses(spec, schema) -> None:
    """Register the Problem schema and one lazy problem+json response per error status."""
    spec.components.schema(PROBLEM_SCHEMA, schema=schema)
    for status in http.HTTPStatus:
        if status < 400:
            continue
        spec.components.response(status.name, problem_response(status), lazy=True)


def _has_error_content(response: Any) -> bool:
    return isinstance(response, dict) and "content" in response


class ContractPlugin(BasePlugin):
    """Adds the shared error responses and parameter descriptions to every operation."""

    def path_helper(self, path=None, operations=None, parameters=None, **kwargs):
        for parameter in parameters or ():
            if parameter.get("in") == "path" and parameter.get("name") in PATH_PARAMETERS:
                parameter.setdefault("description", PATH_PARAMETERS[parameter["name"]])
        return None

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            # Every request's query string is checked for its length (backend/guards.py).
            wanted = [414, 503]
            if "{" in (path or ""):
                wanted.append(404)
            if "requestBody" in operation:
                wanted += [413, 415]
            if any(p.get("in") == "query" for p in operation.get("parameters", ())
                   if isinstance(p, dict)):
                wanted.append(414)  # the guards refuse an over-long query string
            if operation.get("security"):
                wanted.append(401)
            for status in wanted:
                if status not in responses and str(status) not in responses:
                    responses[status] = status_name(status)
            for code, response in list(responses.items()):
                if int(code) >= 400 and isinstance(response, dict) and not _has_error_content(
                        response):
                    # alt_response(409, description=...): keep the description, add the body.
                    responses[code] = problem_response(int(code), response.get("description"))
            operation["responses"] = {str(code): responses[code]
                                      for code in sorted(responses, key=str)}


def plain_numbers(ret: dict) -> dict:
    """Decimal bounds (a Decimal field's Range) as JSON numbers, not strings."""
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "default"):
        value = ret.get(key)
        if isinstance(value, decimal.Decimal):
            ret[key] = int(value) if value == value.to_integral_value() else float(value)
    return ret


def exclusive_bounds(converter, field, ret: dict, **kwargs) -> dict:
    """A Range with min_inclusive or max_inclusive False as OpenAPI 3.1's exclusive bounds.

    (An attribute function of apispec's marshmallow plugin: `converter` is the plugin's.)
    """
    from marshmallow import validate

    for validator in getattr(field, "validators", ()):
        if not isinstance(validator, validate.Range):
            continue
        if validator.min is not None and not validator.min_inclusive:
            ret.pop("minimum", None)
            ret["exclusiveMinimum"] = validator.min
        if validator.max is not None and not validator.max_inclusive:
            ret.pop("maximum", None)
            ret["exclusiveMaximum"] = validator.max
    return plain_numbers(ret)
