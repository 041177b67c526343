"""The OpenAPI document is a contract tools accept: valid, described, and honest about errors."""

from __future__ import annotations

import math

import pytest
from openapi_spec_validator import validate

from backend.apidoc import PROBLEM_MIME

METHODS = ("get", "put", "post", "patch", "delete")
PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture(scope="module")
def spec(app):
    with app.test_client() as client:
        response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


def _operations(spec):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method], item.get("parameters", [])


def _resolve(spec, obj):
    while "$ref" in obj:
        *_, kind, name = obj["$ref"].split("/")
        obj = spec["components"][kind][name]
    return obj


def test_document_is_valid_openapi(spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # raises with the first problem


def test_every_operation_and_parameter_is_described(spec):
    missing = []
    operations = list(_operations(spec))
    assert len(operations) >= 40
    for path, method, operation, path_parameters in operations:
        for key in ("summary", "description"):
            if not operation.get(key, "").strip():
                missing.append(f"{method.upper()} {path}: no {key}")
        for parameter in [*path_parameters, *operation.get("parameters", [])]:
            parameter = _resolve(spec, parameter)
            if not parameter.get("description", "").strip():
                missing.append(f"{method.upper()} {path}: parameter {parameter['name']}")
    assert not missing, "\n".join(missing)


def test_error_responses_are_problem_json_with_the_shared_schema(spec):
    wrong = []
    for path, method, operation, _ in _operations(spec):
        responses = operation["responses"]
        assert "default" not in responses, f"{method} {path}: a catch-all hides the statuses"
        for code, response in responses.items():
            if int(code) < 400:
                continue
            content = _resolve(spec, response).get("content", {})
            if list(content) != [PROBLEM_MIME] or content[PROBLEM_MIME]["schema"] != {
                    "$ref": PROBLEM_REF}:
                wrong.append(f"{method.upper()} {path} {code}: {content}")
    assert not wrong, "\n".join(wrong)
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "errors"} <= set(problem["properties"])


def test_each_operation_declares_the_statuses_it_can_answer(spec):
    for path, method, operation, _ in _operations(spec):
        codes = set(operation["responses"])
        where = f"{method.upper()} {path}"
        assert "503" in codes, where  # every operation needs the database
        if operation.get("security"):
            assert "401" in codes, where
        if "requestBody" in operation:
            assert {"413", "415"} <= codes, where
        if "{" in path:
            assert "404" in codes, where
        if operation.get("parameters") or "requestBody" in operation:
            assert "400" in codes, where
    login = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert {"401", "429"} <= set(login)
    assert "Retry-After" in _resolve(spec, login["429"])["headers"]
    upload = spec["paths"]["/api/v1/uploads"]["post"]
    assert list(upload["requestBody"]["content"]) == ["multipart/form-data"]
    assert {"403", "401"} <= set(upload["responses"])


def test_public_endpoints_have_examples(spec):
    for path in ("/api/v1/branches/nearby", "/api/v1/atms/nearby", "/api/v1/places/nearby",
                 "/api/v1/repayment-points/nearby", "/api/v1/places"):
        operation = spec["paths"][path]["get"]
        for parameter in operation["parameters"]:
            if parameter.get("required"):
                assert "example" in parameter or "example" in parameter["schema"], (
                    path, parameter["name"])
        ok = operation["responses"]["200"]["content"]["application/json"]
        assert "example" in ok, path
    login = spec["paths"]["/api/v1/auth/login"]["post"]
    assert "example" in login["requestBody"]["content"]["application/json"]


def _example(parameter):
    return parameter.get("example", parameter["schema"].get("example"))


def _bounds(schema):
    """(value, accepted) pairs at and just beyond each declared bound."""
    step = 1 if schema.get("type") == "integer" else 1e-6
    cases = []
    if "minimum" in schema:
        cases += [(schema["minimum"], True), (schema["minimum"] - step, False)]
    if "maximum" in schema:
        cases += [(schema["maximum"], True), (schema["maximum"] + step, False)]
    if "exclusiveMinimum" in schema:
        low = schema["exclusiveMinimum"]
        cases += [(low, False), (low + step, True)]
    if "exclusiveMaximum" in schema:
        high = schema["exclusiveMaximum"]
        cases += [(high, False), (high - step, True)]
    return cases


def test_declared_bounds_are_the_enforced_ones(spec, client):
    """Every numeric query bound of the public listings: accepted at it, refused beyond it."""
    checked = 0
    for path in ("/api/v1/branches/nearby", "/api/v1/atms/nearby", "/api/v1/places/nearby",
                 "/api/v1/repayment-points/nearby", "/api/v1/places"):
        parameters = spec["paths"][path]["get"]["parameters"]
        base = {p["name"]: _example(p) for p in parameters if p.get("required")}
        for parameter in parameters:
            for value, accepted in _bounds(parameter["schema"]):
                assert math.isfinite(value)
                query = {**base, parameter["name"]: value}
                response = client.get(path, query_string=query)
                expected = 200 if accepted else 400
                assert response.status_code == expected, (path, parameter["name"], value)
                checked += 1
    assert checked >= 40
