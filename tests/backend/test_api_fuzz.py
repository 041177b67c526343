"""Schemathesis against the live app: every operation, anonymous and as every role.

A bounded, seeded run (hypothesis `derandomize`, a fixed number of cases per operation, role
and generation mode) through the app's WSGI interface, in a database of its own (the run
commits), seeded so that each role's operations reach their success paths: a merchant with
stores and offers, offers pending review, an unverified merchant, upload batches, the sample
places, a cardholder who turned promotions on and holds a remote ticket, a queue system bound to
three branches near Bank with a live report. Path parameters are drawn from the real ids as
well as generated, and a few explicit cases (valid bodies that need real ids, such as an offer
for the merchant's own store) make sure each write operation succeeds at least once.

Checks: not_a_server_error, status_code_conformance, content_type_conformance and
response_schema_conformance. No operation or check is excluded. The run prints, per role, the
cases run, the statuses seen, the operations that succeeded and the failures.

NEARBANK_FUZZ_EXAMPLES sets the number of generated cases per operation, role and mode.
"""

from __future__ import annotations

import collections
import io
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import schemathesis
from flask_jwt_extended import create_access_token, create_refresh_token
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend import config as app_config
from backend import create_app
from backend.extensions import db
from backend.migrate import upgrade
from tests.backend.fake_nominatim import serve, stop
from tests.conftest import PASSWORD, SAMPLE_CSV

ROLES = ("anonymous", "cardholder", "maintainer", "merchant", "reviewer", "admin",
         "queue_system")
BANK = (51.5133, -0.0890)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES = int(os.environ.get("NEARBANK_FUZZ_EXAMPLES", "12"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
METHODS = ("get", "put", "post", "patch", "delete")

# Operations each role must have seen succeed (2xx) at least once during the run.
MUST_SUCCEED = {
    "anonymous": {"POST /api/v1/auth/login", "POST /api/v1/merchants", "GET /api/v1/geocode",
                  "GET /api/v1/branches/nearby", "GET /api/v1/atms/nearby",
                  "GET /api/v1/places/nearby", "GET /api/v1/repayment-points/nearby",
                  "GET /api/v1/places", "GET /api/v1/places/{place_id}"},
    "cardholder": {"GET /api/v1/me", "POST /api/v1/auth/refresh", "POST /api/v1/auth/logout",
                   "GET /api/v1/me/consent", "PUT /api/v1/me/consent",
                   "GET /api/v1/me/consent/history", "GET /api/v1/me/data",
                   "DELETE /api/v1/me/offer-activity", "GET /api/v1/offers/nearby",
                   "GET /api/v1/me/tickets", "DELETE /api/v1/me/tickets/{ticket_id}"},
    "maintainer": {"GET /api/v1/uploads", "POST /api/v1/uploads",
                   "GET /api/v1/uploads/{batch_id}", "POST /api/v1/uploads/{batch_id}/apply",
                   "POST /api/v1/uploads/{batch_id}/rollback",
                   "GET /api/v1/uploads/{batch_id}/report.csv",
                   "GET /api/v1/places/{place_id}/history", "PATCH /api/v1/places/{place_id}"},
    "merchant": {"GET /api/v1/merchants/me", "PATCH /api/v1/merchants/me",
                 "GET /api/v1/merchants/me/stores", "POST /api/v1/merchants/me/stores",
                 "GET /api/v1/merchants/me/stores/{store_id}",
                 "PATCH /api/v1/merchants/me/stores/{store_id}",
                 "DELETE /api/v1/merchants/me/stores/{store_id}",
                 "GET /api/v1/merchants/me/offers", "POST /api/v1/merchants/me/offers",
                 "GET /api/v1/merchants/me/offers/{offer_id}",
                 "PATCH /api/v1/merchants/me/offers/{offer_id}",
                 "DELETE /api/v1/merchants/me/offers/{offer_id}",
                 "POST /api/v1/merchants/me/offers/{offer_id}/submit",
                 "GET /api/v1/merchants/me/offers/{offer_id}/stats"},
    "reviewer": {"GET /api/v1/review/offers", "GET /api/v1/review/offers/{offer_id}",
                 "POST /api/v1/review/offers/{offer_id}/approve",
                 "POST /api/v1/review/offers/{offer_id}/reject",
                 "GET /api/v1/review/merchants", "GET /api/v1/review/merchants/{merchant_id}",
                 "POST /api/v1/review/merchants/{merchant_id}/verify",
                 "POST /api/v1/review/merchants/{merchant_id}/reject"},
    "admin": {"GET /api/v1/uploads", "GET /api/v1/review/offers", "GET /api/v1/me/data"},
    "queue_system": {"PUT /api/v1/branches/{branch_id}/queue", "POST /api/v1/queue-reports",
                     "GET /api/v1/queue-system/tickets"},
}


@dataclass
class Tally:
    """What one role's run saw."""

    cases: int = 0
    statuses: collections.Counter = field(default_factory=collections.Counter)
    succeeded: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    nothing_to_negate: int = 0

    def line(self, role: str) -> str:
        statuses = " ".join(f"{code}x{n}" for code, n in sorted(self.statuses.items()))
        return (f"{role:<12} {self.cases:>5} cases, {len(self.failures)} failures, "
                f"{len(self.succeeded)} operations reached 2xx, {self.nothing_to_negate} "
                f"without negative cases; statuses {statuses}")


# --- the database, the app and the seed ---------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_database_url(database_url):
    """A database of its own in the suite's cluster: the run commits, the suite's tests don't."""
    name = f"nearbank_fuzz_{uuid.uuid4().hex[:8]}"
    admin_url = app_config.normalise_database_url(database_url).replace("+psycopg", "")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    yield url
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def fuzz_app(fuzz_database_url, redis_url):
    """The app bound to the fuzz database (and the suite's Redis for live queues); the suite's
    engine is put back afterwards."""
    saved = db.engine
    nominatim = serve()
    config = app_config.TestConfig(fuzz_database_url, redis_url)
    config.GEOCODER_DOMAIN = nominatim.domain
    config.GEOCODER_SCHEME = "http"
    config.GEOCODER_MIN_DELAY_SECONDS = 0.0
    config.GEOCODER_TIMEOUT_SECONDS = 5.0
    app = create_app(config)
    try:
        yield app
    finally:
        db.session.remove()
        db.engine.dispose()
        # `db` is one per process: the suite's other tests use the engine they had.
        db.engine = saved
        db.session.configure(bind=saved)
        stop(nominatim)


@dataclass
class World:
    """The seeded objects: users by role and the ids path parameters are drawn from."""

    app: Any
    users: dict[str, int] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=lambda: collections.defaultdict(list))

    def token(self, role: str, refresh: bool = False) -> str:
        """A fresh token of a new login session (logout in one case ends only that one)."""
        with self.app.app_context():
            claims = {"role": role, "sid": str(uuid.uuid4())}
            make = create_refresh_token if refresh else create_access_token
            return make(identity=str(self.users[role]), additional_claims=claims)

    def headers(self, role: str, operation_key: str) -> dict[str, str]:
        if role == "anonymous":
            return {}
        refresh = operation_key == "POST /api/v1/auth/refresh"
        return {"Authorization": f"Bearer {self.token(role, refresh)}"}


def _check(response, expected: int = 200) -> dict:
    assert response.status_code == expected, response.get_data(as_text=True)[:500]
    return response.get_json(silent=True) or {}


def _few_rows() -> bytes:
    """The header and three places of the sample data set, as a file to upload."""
    return "\n".join(SAMPLE_CSV.read_text(encoding="utf-8").splitlines()[:4]).encode()


def _upload_body(source: str) -> dict:
    return {"file": (io.BytesIO(_few_rows()), "few.csv"), "source": source}


def offer_body(store_id: str, title: str = "Ten percent off coffee") -> dict:
    now = datetime.now(UTC)
    return {"title": title, "description": "On any hot drink.", "terms": "One per visit.",
            "category": "cafes", "benefit": {"type": "percent_off", "percent": 10},
            "valid_from": (now - timedelta(days=1)).isoformat(),
            "valid_until": (now + timedelta(days=30)).isoformat(),
            "eligible_tiers": ["classic", "gold", "platinum"], "store_ids": [store_id]}


@pytest.fixture(scope="module")
def world(fuzz_app) -> World:
    """Seed through the services and the API, as the roles would."""
    from backend.accounts.service import create_user
    from backend.uploads.loader import load_places_file

    w = World(fuzz_app)
    client = fuzz_app.test_client()
    with fuzz_app.app_context():
        report = load_places_file(db.session, SAMPLE_CSV)
        assert not report.errors
        for role in ROLES[1:]:
            tier = {"card_tier": "gold"} if role == "cardholder" else {}
            if role != "merchant":
                w.users[role] = create_user(db.session, f"{role}@fuzz.example", PASSWORD, role,
                                            **tier).id
    places = client.get("/api/v1/places", query_string={"bbox": "-180,-90,180,90",
                                                        "limit": 20}).get_json()
    w.ids["place_id"] = [f["id"] for f in places["features"]]

    merchant = _check(client.post("/api/v1/merchants", json={
        "email": "merchant@fuzz.example", "password": PASSWORD, "name": "Fuzz Cafe",
        "category": "cafes"}), 201)
    _check(client.post("/api/v1/merchants", json={
        "email": "other@fuzz.example", "password": PASSWORD, "name": "Other Shop",
        "category": "fashion"}), 201)
    with fuzz_app.app_context():
        from backend.accounts.service import find_user_by_email
        w.users["merchant"] = find_user_by_email(db.session, "merchant@fuzz.example").id

    as_merchant = {"Authorization": f"Bearer {w.token('merchant')}"}
    point = {"type": "Point", "coordinates": [-0.1414, 51.5382]}
    for name in ("Camden", "Kentish Town", "Chalk Farm"):
        store = _check(client.post("/api/v1/merchants/me/stores", headers=as_merchant,
                                   json={"name": name, "location": point}), 201)
        w.ids["store_id"].append(store["id"])
    offers = [_check(client.post("/api/v1/merchants/me/offers", headers=as_merchant,
                                 json=offer_body(w.ids["store_id"][0], f"Offer {i}")), 201)
              for i in range(4)]
    draft = _check(client.post("/api/v1/merchants/me/offers", headers=as_merchant,
                               json={**offer_body(w.ids["store_id"][0]), "submit": False}), 201)
    w.ids["offer_id"] = [o["id"] for o in offers] + [draft["id"]]

    as_reviewer = {"Authorization": f"Bearer {w.token('reviewer')}"}
    _check(client.post(f"/api/v1/review/merchants/{merchant['id']}/verify",
                       headers=as_reviewer, json={"seen_version": merchant["version"]}))
    _check(client.post(f"/api/v1/review/offers/{offers[0]['id']}/approve",
                       headers=as_reviewer, json={"seen_version": offers[0]["version"]}))
    merchants = _check(client.get("/api/v1/review/merchants", headers=as_reviewer,
                                  query_string={"status": "unverified"}))
    w.ids["merchant_id"] = [merchant["id"]] + [m["id"] for m in merchants["items"]]

    as_cardholder = {"Authorization": f"Bearer {w.token('cardholder')}"}
    notice = _check(client.get("/api/v1/privacy/notices/promotions"))
    w.ids["policy_version"] = [notice["version"]]
    _check(client.put("/api/v1/me/consent", headers=as_cardholder,
                      json={"promotions_enabled": True, "categories": ["cafes"],
                            "policy_version": notice["version"]}))

    _seed_queues(w, client)

    as_maintainer = {"Authorization": f"Bearer {w.token('maintainer')}"}
    for source in ("fuzz-applied", "fuzz-pending", "fuzz-pending-2"):
        batch = _check(client.post("/api/v1/uploads", headers=as_maintainer,
                                   data=_upload_body(source)), 201)
        w.ids["batch_id"].append(batch["id"])
    _check(client.post(f"/api/v1/uploads/{w.ids['batch_id'][0]}/apply",
                       headers=as_maintainer))
    return w


def queue_line(line: str = "counter", waiting: int = 3) -> dict:
    return {"line": line, "waiting": waiting, "open_desks": 1, "mean_service_s": 200.0}


def _seed_queues(w: World, client) -> None:
    """The queue system bound to the three branches nearest Bank, a live report for each, and
    a remote ticket the cardholder holds at the first."""
    from backend.queues.service import bind_branches

    branches = client.get("/api/v1/branches/nearby", query_string={
        "lat": BANK[0], "lon": BANK[1], "limit": 3}).get_json()
    w.ids["branch_id"] = [f["id"] for f in branches["features"]]
    assert len(w.ids["branch_id"]) == 3
    with w.app.app_context():
        bind_branches(db.session, w.users["queue_system"], w.ids["branch_id"])
    as_system = {"Authorization": f"Bearer {w.token('queue_system')}"}
    now = datetime.now(UTC).isoformat()
    _check(client.post("/api/v1/queue-reports", headers=as_system, json={"reports": [
        {"branch_id": branch, "as_of": now, "lines": [queue_line(), queue_line("priority", 0)]}
        for branch in w.ids["branch_id"]]}))
    as_cardholder = {"Authorization": f"Bearer {w.token('cardholder')}"}
    ticket = _check(client.post(f"/api/v1/branches/{w.ids['branch_id'][0]}/tickets",
                                headers=as_cardholder, json={"line": "counter"}), 201)
    w.ids["ticket_id"] = [ticket["id"]]


# --- explicit cases: valid bodies that need the seeded ids -------------------------------------

def explicit_cases(w: World, role: str) -> list[tuple[str, dict]]:
    """(operation key, Case arguments) for the write operations of `role`."""
    store, offers, batches = w.ids["store_id"], w.ids["offer_id"], w.ids["batch_id"]
    client = w.app.test_client()
    cases: list[tuple[str, dict]] = []
    cases.append(("GET /api/v1/places", {"query": {"bbox": "-0.16,51.52,-0.12,51.55"}}))
    if role == "anonymous":
        cases += [
            ("POST /api/v1/auth/login", {"body": {"email": "cardholder@fuzz.example",
                                                  "password": PASSWORD}}),
            ("POST /api/v1/merchants", {"body": {
                "email": f"new-{uuid.uuid4().hex[:6]}@fuzz.example", "password": PASSWORD,
                "name": "New Shop", "category": "dining"}}),
        ]
    if role == "cardholder":
        cases += [("PUT /api/v1/me/consent", {"body": {
                      "promotions_enabled": True, "categories": ["cafes"],
                      "policy_version": w.ids["policy_version"][0]}}),
                  ("GET /api/v1/offers/nearby", {"query": {"lat": 51.5382, "lon": -0.1414}}),
                  ("DELETE /api/v1/me/tickets/{ticket_id}",
                   {"path_parameters": {"ticket_id": w.ids["ticket_id"][0]}})]
    if role == "queue_system":
        branches = w.ids["branch_id"]
        now = datetime.now(UTC).isoformat()
        cases += [
            ("PUT /api/v1/branches/{branch_id}/queue", {
                "path_parameters": {"branch_id": branches[0]},
                "body": {"as_of": now, "lines": [queue_line(waiting=5)], "tickets_after": 0}}),
            ("POST /api/v1/queue-reports", {"body": {"reports": [
                {"branch_id": branches[1], "as_of": now, "lines": [queue_line(waiting=1)]}]}}),
            ("GET /api/v1/queue-system/tickets", {"query": {"after": 0}}),
        ]
    if role in ("maintainer", "admin"):
        cases += [
            ("PATCH /api/v1/places/{place_id}", {"path_parameters": {
                "place_id": w.ids["place_id"][0]}, "body": {"status": "active"}}),
            ("POST /api/v1/uploads", {"body": {
                "file": _few_rows(), "source": f"fuzz-{role}", "format": "nearbank-csv"},
                "media_type": "multipart/form-data"}),
        ]
        if role == "maintainer":
            cases += [
                ("POST /api/v1/uploads/{batch_id}/rollback",
                 {"path_parameters": {"batch_id": batches[0]}}),
                ("POST /api/v1/uploads/{batch_id}/apply",
                 {"path_parameters": {"batch_id": batches[1]}}),
            ]
    if role == "merchant":
        as_merchant = {"Authorization": f"Bearer {w.token('merchant')}"}
        spare = _check(client.post("/api/v1/merchants/me/stores", headers=as_merchant, json={
            "name": "Spare", "location": {"type": "Point", "coordinates": [-0.14, 51.53]}}),
            201)["id"]
        cases += [
            ("PATCH /api/v1/merchants/me", {"body": {"contact_name": "Sam"}}),
            ("POST /api/v1/merchants/me/stores", {"body": {"name": "By address",
                                                           "street": "10 Dean Street"}}),
            ("PATCH /api/v1/merchants/me/stores/{store_id}", {
                "path_parameters": {"store_id": store[1]}, "body": {"name": "Renamed"}}),
            ("DELETE /api/v1/merchants/me/stores/{store_id}",
             {"path_parameters": {"store_id": spare}}),
            ("POST /api/v1/merchants/me/offers", {"body": offer_body(store[0])}),
            ("PATCH /api/v1/merchants/me/offers/{offer_id}", {
                "path_parameters": {"offer_id": offers[1]}, "body": {"title": "Changed"}}),
            ("POST /api/v1/merchants/me/offers/{offer_id}/submit",
             {"path_parameters": {"offer_id": offers[-1]}}),
            ("DELETE /api/v1/merchants/me/offers/{offer_id}",
             {"path_parameters": {"offer_id": offers[3]}}),
        ]
    if role == "reviewer":
        # Fresh objects: the merchant's generated cases may have withdrawn the seeded offers.
        as_merchant = {"Authorization": f"Bearer {w.token('merchant')}"}
        pending = [_check(client.post("/api/v1/merchants/me/offers", headers=as_merchant,
                                      json=offer_body(store[0], f"Pending {i}")), 201)
                   for i in range(2)]
        unverified = [_check(client.post("/api/v1/merchants", json={
            "email": f"shop-{uuid.uuid4().hex[:6]}@fuzz.example", "password": PASSWORD,
            "name": "Shop", "category": "fuel"}), 201) for _ in range(2)]
        cases += [
            ("POST /api/v1/review/offers/{offer_id}/approve", {
                "path_parameters": {"offer_id": pending[0]["id"]},
                "body": {"seen_version": pending[0]["version"]}}),
            ("POST /api/v1/review/offers/{offer_id}/reject", {
                "path_parameters": {"offer_id": pending[1]["id"]},
                "body": {"reason": "Too vague."}}),
            ("POST /api/v1/review/merchants/{merchant_id}/verify", {
                "path_parameters": {"merchant_id": unverified[0]["id"]},
                "body": {"seen_version": unverified[0]["version"]}}),
            ("POST /api/v1/review/merchants/{merchant_id}/reject", {
                "path_parameters": {"merchant_id": unverified[1]["id"]},
                "body": {"reason": "Unknown."}}),
        ]
    return cases


# --- the run ------------------------------------------------------------------------------------

def _key(operation) -> str:
    return f"{operation.method.upper()} {operation.path}"


def _with_real_ids(w: World):
    """A strategy that replaces generated path parameters by seeded ids, some of the time."""

    def apply(pair):
        case, choice = pair
        for name in list(case.path_parameters or {}):
            pool = w.ids.get(name) or []
            if pool and choice is not None:
                case.path_parameters[name] = pool[choice % len(pool)]
        return case

    return apply


def _run_case(w: World, role: str, key: str, case, tally: Tally) -> None:
    response = case.call(headers=w.headers(role, key))
    tally.cases += 1
    tally.statuses[response.status_code] += 1
    if 200 <= response.status_code < 300:
        tally.succeeded.add(key)
    try:
        case.validate_response(response, checks=CHECKS)
    except (AssertionError, BaseExceptionGroup) as exc:  # failed checks: report them all
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        curl = [line for line in lines if line.startswith("curl ")]
        tally.failures.append(f"{key} [{role}] -> {response.status_code}: "
                              f"{' | '.join(lines[:5])[:500]}{' | ' + curl[0] if curl else ''}")


def run_role(schema, w: World, role: str) -> Tally:
    tally = Tally()
    operations = {_key(op): op for op in (r.ok() for r in schema.get_all_operations())}
    for key, arguments in explicit_cases(w, role):
        _run_case(w, role, key, operations[key].Case(**arguments), tally)
    for key, operation in operations.items():
        for mode in MODES:
            if mode is GenerationMode.NEGATIVE and not _negatable(operation):
                tally.nothing_to_negate += 1
                continue
            strategy = st.tuples(operation.as_strategy(generation_mode=mode),
                                 st.one_of(st.none(), st.integers(0, 50))
                                 ).map(_with_real_ids(w))
            try:
                _fuzz(strategy, lambda case, key=key: _run_case(w, role, key, case, tally))
            except Unsatisfiable:
                # Hypothesis found no request that breaks the schema (counted and printed).
                assert mode is GenerationMode.NEGATIVE, key
                tally.nothing_to_negate += 1
    return tally


def _negatable(operation) -> bool:
    """Whether a request can break the schema: a body or a query/header parameter.

    A path parameter is any non-empty string: no URL makes it invalid.
    """
    return bool(len(operation.body)) or any(
        parameter.location != "path" for parameter in operation.iter_parameters())


def _fuzz(strategy, run) -> None:
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def fuzz(case):
        run(case)

    fuzz()


def test_schemathesis_every_operation_as_every_role(fuzz_app, world, capsys):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 47
    # Anonymous cases carry schemathesis' own made-up credentials (positive) or none
    # (negative); a role's cases carry its real token, and the negative ones break the request,
    # not the credentials.
    signed_in = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    signed_in.config.generation.update(with_security_parameters=False)
    tallies = {role: run_role(schema if role == "anonymous" else signed_in, world, role)
               for role in ROLES}
    with capsys.disabled():
        print(f"\nschemathesis: {len(operations)} operations, {EXAMPLES} generated cases per "
              f"operation, role and mode ({', '.join(m.value for m in MODES)}); checks: "
              + ", ".join(c.__name__ for c in CHECKS))
        for role, tally in tallies.items():
            print("  " + tally.line(role))
        for tally in tallies.values():
            for failure in tally.failures[:40]:
                print("  FAIL " + failure)
    failures = [f for t in tallies.values() for f in t.failures]
    assert not failures, f"{len(failures)} failures; first: {failures[:5]}"
    # TestConfig's login limit is far above the run's: a 429 would mean cases tested nothing.
    assert not any(t.statuses[429] for t in tallies.values())
    for role, wanted in MUST_SUCCEED.items():
        missing = wanted - tallies[role].succeeded
        assert not missing, f"{role} never reached a success on {sorted(missing)}"
