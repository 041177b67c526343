"""Hostile input, one case per row: every case is a 4xx problem+json that changes nothing.

Each case is a request (who sends it, method, path, query string or body) and the status and
field the answer must name. Before and after each request the test takes a digest of every
table, so a case that wrote anything fails even when its status is right.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from backend.paging import AfterDistance, encode_cursor
from tests.backend.factories import add_places, place_fields, public_ids_by_external_id
from tests.backend.offer_factories import OfferWorld, fast_password_hashing  # noqa: F401

PROBLEM = "application/problem+json"
LONDON = {"lat": "51.5133", "lon": "-0.0890"}
NEARBY = ("/api/v1/branches/nearby", "/api/v1/atms/nearby", "/api/v1/places/nearby",
          "/api/v1/repayment-points/nearby")
BBOX = "/api/v1/places?bbox=-180,-90,180,90"
LISTINGS = (
    *(f"{path}?lat=51.5133&lon=-0.0890" for path in NEARBY),
    BBOX,
    "/api/v1/review/offers?status=pending",
    "/api/v1/review/merchants?status=verified",
    "/api/v1/uploads?limit=5",
)
LISTING_ROLE = {"/api/v1/review/offers?status=pending": "reviewer",
                "/api/v1/review/merchants?status=verified": "reviewer",
                "/api/v1/uploads?limit=5": "maintainer"}


def b64(raw: bytes | str) -> str:
    raw = raw.encode() if isinstance(raw, str) else raw
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@dataclass
class Case:
    """One hostile request and what it must answer."""

    id: str
    method: str
    path: str
    status: int = 400
    field: str | None = None
    role: str | None = None
    json: Any = None
    data: bytes | str | None = None
    content_type: str | None = None
    query: bytes | str | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


BAD_CURSORS = {
    "bool-id": b64('{"i": true}'),
    "float-id": b64('{"i": 1.5}'),
    "string-id": b64('{"i": "1"}'),
    "negative-id": b64('{"i": -1}'),
    "bigint-overflow": b64('{"i": 99999999999999999999999}'),
    "extra-key": b64('{"i": 1, "x": 2}'),
    "duplicate-key": b64('{"i": 1, "i": 2}'),
    "array": b64("[1]"),
    "nan-distance": b64('{"d": NaN, "i": 1, "f": "abc"}'),
    "infinite-distance": b64('{"d": 1e999, "i": 1, "f": "abc"}'),
    "not-base64": "not a cursor!",
    "not-json": b64(b"\xff\xfe"),
    "deep": b64(nested(500)),
    "overlong": "A" * 1500,
    "nul": "%00",
    "empty-object": b64("{}"),
}

CASES: list[Case] = []

# The issue's reproductions.
CASES += [
    Case("repro-bbox-bool-cursor", "GET", BBOX + "&cursor=eyJpIjogdHJ1ZX0", field="cursor"),
    *(Case(f"repro-deep-json-{name}", method, path, field="_body", role=role,
           data=nested(1000), content_type="application/json")
      for name, method, path, role in (
          ("login", "POST", "/api/v1/auth/login", None),
          ("merchant-signup", "POST", "/api/v1/merchants", None),
          ("patch-place", "PATCH", "/api/v1/places/{place}", "maintainer"),
          ("consent", "PUT", "/api/v1/me/consent", "cardholder"),
          ("store", "POST", "/api/v1/merchants/me/stores", "merchant"),
          ("offer", "POST", "/api/v1/merchants/me/offers", "merchant"),
      )),
    Case("repro-deep-json-object", "POST", "/api/v1/auth/login", field="_body",
         data='{"a":' * 100_000 + "1" + "}" * 100_000, content_type="application/json"),
    Case("repro-nul-email-login", "POST", "/api/v1/auth/login", field="email",
         json={"email": "\u0000@b.c", "password": "x"}),
    Case("repro-nul-email-signup", "POST", "/api/v1/merchants", field="email",
         json={"email": "\u0000@b.c", "password": "long enough password", "name": "N",
               "category": "dining"}),
    Case("repro-surrogate-password-login", "POST", "/api/v1/auth/login", field="password",
         json={"email": "a@b.c", "password": "\ud800"}),
    Case("repro-surrogate-password-signup", "POST", "/api/v1/merchants", field="password",
         json={"email": "a@b.c", "password": "\ud800 long enough", "name": "N",
               "category": "dining"}),
    *(Case(f"repro-fullwidth-lat-{path.split('/')[3]}", "GET", path, field="lat",
           query="lat=%EF%BC%95%EF%BC%91.%EF%BC%95&lon=-0.1") for path in NEARBY),
]

# Numbers in query strings: ASCII decimal only, finite, in range.
CASES += [
    Case("arabic-indic-lat", "GET", NEARBY[0], field="lat",
         query="lat=%D9%A5%D9%A1.%D9%A5&lon=-0.1"),
    Case("fullwidth-limit", "GET", NEARBY[0], field="limit",
         query="lat=51.5&lon=-0.1&limit=%EF%BC%91%EF%BC%90"),
    Case("fullwidth-bbox", "GET", "/api/v1/places", field="bbox",
         query="bbox=-1,%EF%BC%95%EF%BC%91,1,52"),
    Case("underscore-digits", "GET", NEARBY[0], field="radius_m",
         query="lat=51.5&lon=-0.1&radius_m=1_000"),
    Case("padded-number", "GET", NEARBY[0], field="lat", query="lat=%2051.5%20&lon=-0.1"),
    Case("nan-lat", "GET", NEARBY[0], field="lat", query="lat=NaN&lon=-0.1"),
    Case("infinity-lon", "GET", NEARBY[0], field="lon", query="lat=51.5&lon=Infinity"),
    Case("overflowing-lat", "GET", NEARBY[0], field="lat", query="lat=1e400&lon=-0.1"),
    Case("huge-limit", "GET", NEARBY[0], field="limit",
         query="lat=51.5&lon=-0.1&limit=" + "9" * 40),
    Case("huge-radius", "GET", NEARBY[0], field="radius_m",
         query="lat=51.5&lon=-0.1&radius_m=1e308"),
    Case("zero-limit", "GET", NEARBY[0], field="limit", query="lat=51.5&lon=-0.1&limit=0"),
    Case("negative-limit", "GET", NEARBY[0], field="limit", query="lat=51.5&lon=-0.1&limit=-1"),
    Case("limit-over-max", "GET", NEARBY[0], field="limit", query="lat=51.5&lon=-0.1&limit=101"),
    Case("swapped-coordinates", "GET", NEARBY[0], field="lat", query="lat=103.85&lon=1.28"),
    Case("longitude-out-of-range", "GET", NEARBY[0], field="lon", query="lat=1&lon=200"),
    Case("bbox-out-of-range", "GET", "/api/v1/places", field="bbox", query="bbox=-1,-91,1,91"),
    Case("bbox-nan", "GET", "/api/v1/places", field="bbox", query="bbox=nan,1,2,3"),
    Case("bbox-huge-limit", "GET", BBOX + "&limit=1e9", field="limit"),
    Case("review-limit-words", "GET", "/api/v1/review/offers", field="limit", role="reviewer",
         query="limit=ten"),
    Case("uploads-fullwidth-limit", "GET", "/api/v1/uploads", field="limit", role="maintainer",
         query="limit=%EF%BC%95"),
]

# Query strings: length, repetition, encoding.
CASES += [
    Case("overlong-query-string", "GET", NEARBY[0], status=414,
         query="lat=51.5&lon=-0.1&services=" + "x" * 5000),
    Case("repeated-lat", "GET", NEARBY[0], field="lat", query="lat=51.5&lat=1&lon=-0.1"),
    Case("repeated-cursor", "GET", BBOX + "&cursor=a&cursor=b", field="cursor"),
    Case("repeated-position-like-name", "GET", NEARBY[0], field="_query",
         query="lat=51.5&lon=-0.1&51.5012=1&51.5012=2"),
    Case("invalid-utf8-query-value", "GET", NEARBY[0], field="lat", query=b"lat=%FF&lon=-0.1"),
    Case("raw-invalid-utf8-query", "GET", NEARBY[0], field="lat", query=b"lat=\xff&lon=-0.1"),
    Case("encoded-surrogate-query", "GET", NEARBY[0], field="services",
         query="lat=51.5&lon=-0.1&services=%ED%A0%80"),
    Case("invalid-utf8-query-name", "GET", NEARBY[0], field="_query",
         query="lat=51.5&lon=-0.1&%FF=1"),
    Case("nul-in-query", "GET", NEARBY[2], field="kind", query="lat=51.5&lon=-0.1&kind=%00"),
    Case("nul-in-query-name", "GET", NEARBY[0], field="_query", query="lat=51.5&lon=-0.1&a%00=1"),
    Case("unknown-service-code", "GET", NEARBY[0], field="services",
         query="lat=51.5&lon=-0.1&services=Nope"),
    Case("unknown-kind", "GET", NEARBY[2], field="kind", query="lat=51.5&lon=-0.1&kind=bank"),
    Case("bool-not-a-bool", "GET", NEARBY[0], field="open_now",
         query="lat=51.5&lon=-0.1&open_now=maybe"),
]

# JSON bodies: encoding, types, numbers, strings, content types.
CASES += [
    Case("invalid-utf8-body", "POST", "/api/v1/auth/login", field="_body",
         data=b'{"email": "\xff@b.c", "password": "x"}', content_type="application/json"),
    Case("not-json", "POST", "/api/v1/auth/login", field="_body",
         data="{email: 1}", content_type="application/json"),
    Case("json-array-body", "POST", "/api/v1/auth/login", json=[1, 2]),
    # Pathological for a backtracking "string literal" regex: must stay linear.
    Case("unterminated-escaped-quotes", "POST", "/api/v1/auth/login", field="_body",
         data='"' + '\\"' * 400_000, content_type="application/json"),
    Case("a-million-brackets", "POST", "/api/v1/auth/login", field="_body",
         data="[" * 1_000_000, content_type="application/json"),
    Case("json-nan", "PUT", "/api/v1/me/consent", field="max_offers", role="cardholder",
         data='{"promotions_enabled": true, "max_offers": NaN}',
         content_type="application/json"),
    Case("json-infinity", "PUT", "/api/v1/me/consent", field="max_offers", role="cardholder",
         data='{"promotions_enabled": true, "max_offers": 1e999}',
         content_type="application/json"),
    Case("json-huge-int", "PUT", "/api/v1/me/consent", field="max_offers", role="cardholder",
         json={"promotions_enabled": True, "max_offers": 10**30}),
    Case("json-very-long-int", "PUT", "/api/v1/me/consent", field="_body", role="cardholder",
         data='{"promotions_enabled": true, "max_offers": ' + "9" * 5000 + "}",
         content_type="application/json"),
    Case("json-fullwidth-number-string", "PUT", "/api/v1/me/consent", field="max_offers",
         role="cardholder", json={"promotions_enabled": True, "max_offers": "\uff15"}),
    Case("json-bool-for-int", "PUT", "/api/v1/me/consent", field="max_offers",
         role="cardholder", json={"promotions_enabled": True, "max_offers": True}),
    Case("json-huge-seen-version", "POST", "/api/v1/review/offers/{offer}/approve",
         field="seen_version", role="reviewer", json={"seen_version": 10**30}),
    Case("json-bool-seen-version", "POST", "/api/v1/review/offers/{offer}/approve",
         field="seen_version", role="reviewer", json={"seen_version": True}),
    Case("nul-in-key", "POST", "/api/v1/auth/login", json={"email\u0000": "a@b.c"}),
    Case("unknown-field-named-like-a-position", "POST", "/api/v1/auth/login", field="_unknown",
         json={"email": "a@b.c", "password": "x", "51.5012,-0.1": 1}),
    Case("nul-in-nested-string", "POST", "/api/v1/merchants/me/stores", role="merchant",
         field="name", json={"name": "Shop\u0000", "location": {"type": "Point",
                                                                "coordinates": [-0.1, 51.5]}}),
    Case("surrogate-in-list", "PUT", "/api/v1/me/consent", field="categories.0",
         role="cardholder", json={"promotions_enabled": True, "categories": ["\udfff"]}),
    Case("store-swapped-coordinates", "POST", "/api/v1/merchants/me/stores", role="merchant",
         json={"name": "Shop", "location": {"type": "Point", "coordinates": [51.5, 103.8]}}),
    Case("store-nan-coordinates", "POST", "/api/v1/merchants/me/stores", role="merchant",
         data='{"name": "Shop", "location": {"type": "Point", "coordinates": [NaN, 1]}}',
         content_type="application/json"),
    Case("text-plain-login", "POST", "/api/v1/auth/login", status=415,
         data='{"email": "a@b.c", "password": "x"}', content_type="text/plain"),
    Case("form-login", "POST", "/api/v1/auth/login", status=415,
         data="email=a%40b.c&password=x", content_type="application/x-www-form-urlencoded"),
    Case("xml-patch-place", "PATCH", "/api/v1/places/{place}", status=415, role="maintainer",
         data="<status>closed</status>", content_type="application/xml"),
    Case("empty-json-login", "POST", "/api/v1/auth/login", field="email",
         data="", content_type="application/json"),
    Case("json-upload", "POST", "/api/v1/uploads", role="maintainer",
         json={"file": "x", "source": "s"}),
    Case("nul-in-upload-form", "POST", "/api/v1/uploads", role="maintainer", field="source",
         data=b"", content_type="multipart"),
]

# Tokens: malformed, foreign, unsigned, huge.
UNSIGNED = (b64('{"alg":"none","typ":"JWT"}') + "." + b64('{"sub":"1","role":"admin",'
            '"type":"access","jti":"x","fresh":false,"nbf":0,"exp":9999999999}') + ".")
CASES += [
    Case(f"token-{name}", "GET", "/api/v1/me", status=401, headers={"Authorization": value})
    for name, value in (
        ("garbage", "Bearer abc"), ("basic-scheme", "Basic YTpi"), ("empty-bearer", "Bearer "),
        ("unsigned-alg-none", f"Bearer {UNSIGNED}"), ("huge", "Bearer " + "a" * 6000),
        ("three-dots", "Bearer a.b.c"), ("non-ascii", "Bearer \u00e9t\u00e9"),
    )
]

# Bad cursors, for every listing.
CASES += [
    Case(f"cursor-{name}-{listing.split('?')[0].rsplit('/', 2)[-2]}-"
         f"{listing.split('?')[0].rsplit('/', 1)[-1]}", "GET",
         f"{listing}&cursor={cursor}", field="cursor", role=LISTING_ROLE.get(listing))
    for listing in LISTINGS for name, cursor in BAD_CURSORS.items()
]

TABLES_SQL = """
SELECT table_name FROM information_schema.tables
WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
  AND table_name NOT IN ('spatial_ref_sys', 'alembic_version')
ORDER BY table_name
"""


def digest(session) -> dict[str, tuple[int, str]]:
    """Row count and content hash of every table."""
    tables = session.execute(text(TABLES_SQL)).scalars().all()
    result = {}
    for table in tables:
        result[table] = tuple(session.execute(text(
            f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') "
            f"FROM {table} t")).one())
    return result


@pytest.fixture
def world(client, login, session, fast_password_hashing):  # noqa: F811
    """Places, a merchant with a store and a pending offer, and one user of each role."""
    repayment = {"repayment_methods": ["cash"], "repayment_fee": "0.00",
                 "repayment_fee_currency": "GBP", "repayment_posting": "same_day",
                 "repayment_cutoff": "16:00"}
    add_places(session, *(place_fields(51.5133 + i * 0.001, -0.0890, external_id=f"adv-{i}",
                                       kind=kind, **repayment)
                          for i, kind in enumerate(("branch", "atm", "branch", "atm"))))
    offers = OfferWorld(client, login)
    merchant = offers.merchant()
    store = offers.store(merchant, 51.5133, -0.0890)
    offer = offers.offer(merchant, [store], approve=False)
    headers = {role: {"Authorization": f"Bearer {login(role)['access_token']}"}
               for role in ("cardholder", "maintainer", "reviewer")}
    headers["merchant"] = merchant.headers
    place = next(iter(public_ids_by_external_id(session).values()))
    return {"headers": headers, "place": place, "offer": offer["id"]}


def send(client, case: Case, world: dict) -> Any:
    path = case.path.format(place=world["place"], offer=world["offer"])
    headers = dict(case.headers)
    if case.role:
        headers.update(world["headers"][case.role])
    kwargs: dict[str, Any] = {"headers": headers}
    if isinstance(case.query, bytes):
        # As the server hands it over: raw bytes, one character per byte.
        kwargs["environ_overrides"] = {"QUERY_STRING": case.query.decode("latin-1")}
    elif case.query is not None:
        kwargs["query_string"] = case.query
    if case.json is not None:
        kwargs["json"] = case.json
    elif case.content_type == "multipart":
        kwargs["data"] = {"source": "src\u0000", "mode": "merge",
                          "file": (io.BytesIO(b"a,b\n"), "f.csv")}
        kwargs["content_type"] = "multipart/form-data"
    elif case.data is not None:
        kwargs["data"] = case.data
        kwargs["content_type"] = case.content_type
    return client.open(path, method=case.method, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_request_is_a_problem_and_changes_nothing(client, session, world, case):
    before = digest(session)
    response = send(client, case, world)
    assert response.status_code == case.status, response.get_data(as_text=True)[:500]
    assert response.content_type == PROBLEM
    body = response.json
    assert body["status"] == case.status and body["title"]
    if case.field:
        assert case.field in [e["field"] for e in body.get("errors", [])], body
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert digest(session) == before


def test_case_ids_are_unique():
    # Each id names one reproduction in the test report; a duplicate would hide one.
    assert len(CASES) == len({case.id for case in CASES})
    print(f"adversarial request cases: {len(CASES)}")


def _nearby_cursor_with(client, path: str, **changes: Any) -> str:
    first = client.get(path, query_string={**LONDON, "limit": 1}).json
    assert first["next_cursor"], first
    raw = first["next_cursor"]
    payload = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    payload.update(changes)
    return b64(json.dumps(payload))


@pytest.mark.parametrize("path", NEARBY)
@pytest.mark.parametrize("change", [{"i": True}, {"d": True}, {"d": "1"}, {"i": None},
                                    {"f": 1}, {"f": "zz"}],
                         ids=["bool-id", "bool-distance", "string-distance", "null-id",
                              "int-fingerprint", "bad-fingerprint"])
def test_nearby_cursor_from_a_real_page_with_a_wrong_type_is_refused(client, session, world,
                                                                     path, change):
    # The issue's reproduction: {"d": 1.0, "i": true, "f": <this search's fingerprint>}.
    cursor = _nearby_cursor_with(client, path, **change)
    before = digest(session)
    response = client.get(path, query_string={**LONDON, "limit": 1, "cursor": cursor})
    assert response.status_code == 400 and response.content_type == PROBLEM
    assert response.json["errors"][0]["field"] == "cursor"
    assert digest(session) == before


def test_a_real_nearby_cursor_still_pages(client, world):
    first = client.get(NEARBY[2], query_string={**LONDON, "limit": 1}).json
    second = client.get(NEARBY[2], query_string={**LONDON, "limit": 1,
                                                 "cursor": first["next_cursor"]})
    assert second.status_code == 200
    assert second.json["features"][0]["id"] != first["features"][0]["id"]


def test_cursor_encoding_round_trips_typed_values():
    from backend.paging import decode_cursor

    cursor = AfterDistance(d=12.5, i=7, f="0123abcd")
    assert decode_cursor(encode_cursor(cursor), AfterDistance) == cursor


# --- body limits: the answer comes before the body is read ------------------------------------

class CountingStream(io.RawIOBase):
    """A body of `size` bytes that exists only as far as someone reads it."""

    def __init__(self, size: int, chunk: bytes = b"[") -> None:
        self.size, self.read_bytes, self.chunk = size, 0, chunk

        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        # Only so that the test client can measure the size; seeking reads nothing.
        self.position = offset if whence == 0 else self.size + offset
        return self.position

    def readinto(self, buffer) -> int:
        n = max(0, min(len(buffer), self.size - self.position))
        buffer[:n] = self.chunk * n
        self.read_bytes += n
        self.position += n
        return n


BIG = 300 * 1024 * 1024
BODY_TARGETS: list[tuple[str, str, str, str | None, Callable[[dict], dict]]] = [
    ("login", "POST", "/api/v1/auth/login", "application/json", lambda w: {}),
    ("merchant-signup", "POST", "/api/v1/merchants", "application/json", lambda w: {}),
    ("consent", "PUT", "/api/v1/me/consent", "application/json",
     lambda w: w["headers"]["cardholder"]),
    ("upload", "POST", "/api/v1/uploads", "multipart/form-data; boundary=x",
     lambda w: w["headers"]["maintainer"]),
]


@pytest.mark.parametrize("name,method,path,content_type,auth", BODY_TARGETS,
                         ids=[t[0] for t in BODY_TARGETS])
def test_300_mb_body_is_refused_before_it_is_read(app, client, session, world, name, method,
                                                  path, content_type, auth):
    stream = CountingStream(BIG)
    before = digest(session)
    response = client.open(path, method=method, input_stream=stream, headers={
        **auth(world), "Content-Type": content_type, "Content-Length": str(BIG)})
    assert response.status_code == 413 and response.content_type == PROBLEM
    assert response.json["limit_bytes"] in (app.config["MAX_JSON_BYTES"],
                                             app.config["MAX_UPLOAD_BYTES"])
    assert stream.read_bytes == 0
    assert digest(session) == before


@pytest.mark.parametrize("name,method,path,content_type,auth", BODY_TARGETS,
                         ids=[t[0] for t in BODY_TARGETS])
def test_chunked_body_stops_being_read_at_the_limit(app, client, session, world, name, method,
                                                    path, content_type, auth):
    stream = CountingStream(BIG)
    before = digest(session)
    # No Content-Length: a chunked body whose end the server marks (wsgi.input_terminated).
    response = client.open(path, method=method, input_stream=stream,
                           environ_overrides={"wsgi.input_terminated": True,
                                              "CONTENT_LENGTH": "",
                                              "HTTP_TRANSFER_ENCODING": "chunked"},
                           headers={**auth(world), "Content-Type": content_type})
    assert response.status_code == 413 and response.content_type == PROBLEM
    limit = app.config["MAX_UPLOAD_BYTES" if name == "upload" else "MAX_JSON_BYTES"]
    assert stream.read_bytes <= limit + 1024 * 1024
    assert digest(session) == before


def test_upload_file_limit_is_its_own(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_UPLOAD_BYTES", 2048)
    body = {"source": "adv", "mode": "partial",
            "file": (io.BytesIO(b"external_id,name\n" + b"x,y\n" * 1000), "big.csv")}
    response = client.post("/api/v1/uploads", data=body, content_type="multipart/form-data",
                           headers=world["headers"]["maintainer"])
    assert response.status_code == 413 and response.json["limit_bytes"] == 2048
    # A JSON body of the same size is fine: the limits are separate.
    assert app.config["MAX_JSON_BYTES"] > 4096


# --- headers -----------------------------------------------------------------------------------

def test_tokens_and_personal_answers_are_not_stored(client, world, login):
    tokens = login("cardholder")
    assert client.post("/api/v1/auth/login", json={"email": "nobody@example.com",
                                                    "password": "x"}).headers[
        "Cache-Control"] == "no-store"
    me = {"Authorization": f"Bearer {tokens['access_token']}"}
    refresh = {"Authorization": f"Bearer {tokens['refresh_token']}"}
    for response in (client.get("/api/v1/me", headers=me),
                     client.get("/api/v1/me/consent", headers=me),
                     client.get("/api/v1/me/data", headers=me),
                     client.get("/api/v1/me"),
                     client.post("/api/v1/auth/refresh", headers=refresh)):
        assert response.headers["Cache-Control"] == "no-store", response.request.path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    public = client.get(NEARBY[0], query_string=LONDON)
    assert public.status_code == 200 and public.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" not in public.headers.get("Cache-Control", "")


def test_unknown_field_names_are_not_echoed(client):
    response = client.post("/api/v1/auth/login",
                           json={"email": "a@b.c", "password": "x", "51.5012,-0.1": 1})
    assert response.status_code == 400
    assert "51.5012" not in response.get_data(as_text=True)


def test_unknown_codes_are_not_echoed(client):
    response = client.get(NEARBY[0], query_string={**LONDON, "services": "my-secret-51.5,WiFi"})
    assert response.status_code == 400
    message = response.json["errors"][0]["message"]
    assert "my-secret" not in message and "51.5" not in message
    assert "WiFi" in message  # the vocabulary may be named


# --- every operation, hostile ids and bodies, as every role ------------------------------------

HOSTILE_IDS = ("%00", "x" * 300, "%ED%A0%80", "..%2F..%2Fetc",
               "00000000-0000-0000-0000-000000000000", "%EF%BC%91", "-1", "1e999", "NaN", "true")
HOSTILE_BODIES = ('{"a": ' * 40 + "1" + "}" * 40, "null", "[]", '"x"', "1e999", "{}",
                  '{"version": 99999999999999999999, "seen_version": true}')


def test_every_operation_refuses_hostile_ids_and_bodies_without_a_server_error(app, client,
                                                                               session, world):
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")
             and "docs" not in r.rule and "openapi" not in r.rule
             and r.rule != "/api/v1/auth/logout"]  # a logout revokes the role's token: not hostile
    # Erasure with a fresh login token is the cardholder's own legitimate request, not hostile
    # input (tests/backend/test_erasure.py covers it); every other method on /me stays in.
    skip = {("/api/v1/me", "DELETE")}
    before = digest(session)
    failures, sent = [], 0
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (rule.rule, method) in skip:
                continue
            for role in (None, "cardholder", "merchant", "reviewer", "maintainer"):
                headers = world["headers"][role] if role else {}
                for hostile in HOSTILE_IDS:
                    path = rule.rule
                    for argument in rule.arguments:
                        path = path.replace(f"<{argument}>", hostile)
                    if path == rule.rule and hostile != HOSTILE_IDS[0]:
                        break  # no path parameter: once is enough
                    bodies = HOSTILE_BODIES if method in ("POST", "PUT", "PATCH") else (None,)
                    for body in bodies:
                        response = client.open(path, method=method, headers=headers,
                                               data=body, content_type="application/json")
                        sent += 1
                        if response.status_code >= 500 or (
                                response.status_code >= 400
                                and response.content_type != PROBLEM):
                            failures.append((method, path[:60], role, body and body[:30],
                                             response.status_code))
    print(f"hostile requests over every operation: {sent}")
    assert not failures, failures[:20]
    assert digest(session) == before


# --- uploaded files: refused as files or as records, never a server error ----------------------

def _feature_collection(properties: bytes, coordinates: bytes = b"[-0.13, 51.51]") -> bytes:
    return (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
            + properties + b', "geometry": {"type": "Point", "coordinates": ' + coordinates
            + b"}}]}")


_PROPS = b'"external_id": "U1", "kind": "branch", "country": "GB", "timezone": "Europe/London"'
HOSTILE_FILES = {
    # Each ijson event carries its path: a few hundred kB of nesting once cost gigabytes.
    "deep-geojson": (_feature_collection(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
                     "f.geojson", "file"),
    "deep-open-banking": (b'{"data": [{"Brand": [{"ATM": [' + b"[" * 50_000 + b"]" * 50_000
                          + b"]}]}]}", "f.json", "file"),
    "nan-coordinates": (_feature_collection(b"{" + _PROPS + b', "name": "x"}', b"[NaN, 1]"),
                        "f.geojson", "file"),
    "overflowing-number": (_feature_collection(b"{" + _PROPS + b', "name": "x"}',
                                               b"[1e999, 51]"), "f.geojson", "file"),
    "utf16": (b"\xff\xfe" + "a,b\n".encode("utf-16-le"), "f.csv", "file"),
    "nul-byte-csv": (b"source,external_id\nx,\x00\n", "f.csv", "file"),
    # ijson cannot turn a lone low surrogate escape into text: the file is refused.
    "lone-low-surrogate": (_feature_collection(b"{" + _PROPS + b', "services": ["\\udfff"]}'),
                           "f.geojson", "file"),
}
# Refused record by record: the upload is stored as a dry run with the record rejected.
HOSTILE_RECORDS = {
    "escaped-nul-name": b"{" + _PROPS + b', "name": "x\\u0000"}',
    "escaped-nul-external-id": b'{"external_id": "U\\u0000", "kind": "branch", "name": "x"}',
}


@pytest.mark.parametrize("name", list(HOSTILE_FILES))
def test_hostile_file_is_refused_and_nothing_is_stored(client, session, world, name):
    content, filename, field_name = HOSTILE_FILES[name]
    before = digest(session)
    response = client.post("/api/v1/uploads", headers=world["headers"]["maintainer"],
                           data={"source": "adv", "mode": "merge",
                                 "file": (io.BytesIO(content), filename)},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and response.content_type == PROBLEM, response.json
    assert response.json["errors"][0]["field"] == field_name
    assert digest(session) == before


@pytest.mark.parametrize("name", list(HOSTILE_RECORDS))
def test_hostile_record_is_rejected_not_stored_as_a_place(client, session, world, name):
    places = session.execute(text("SELECT count(*) FROM places")).scalar_one()
    response = client.post("/api/v1/uploads", headers=world["headers"]["maintainer"],
                           data={"source": "adv", "mode": "merge",
                                 "file": (io.BytesIO(_feature_collection(HOSTILE_RECORDS[name])),
                                          "f.geojson")},
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.json
    assert response.json["summary"]["rejected"] == 1
    batch = response.json["id"]
    applied = client.post(f"/api/v1/uploads/{batch}/apply",
                          headers=world["headers"]["maintainer"])
    assert applied.status_code < 500
    assert client.get(f"/api/v1/uploads/{batch}/report.csv",
                      headers=world["headers"]["maintainer"]).status_code == 200
    assert session.execute(text("SELECT count(*) FROM places")).scalar_one() == places
