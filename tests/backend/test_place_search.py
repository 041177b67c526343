"""GET /api/v1/geocode: a typed place name or postcode to a point, through the fake Nominatim."""

from __future__ import annotations

import logging
import socket

import pytest
from sqlalchemy import text

from tests.backend.fake_nominatim import FOUND, settings

URL = "/api/v1/geocode"
PROBLEM = "application/problem+json"
SECRET = "Flat 4 Secretplace Mews"


@pytest.fixture
def local_geocoder(app, nominatim):
    """Point the app's geocoder at the fake Nominatim for one test."""
    saved = {k: app.config[k] for k in settings(nominatim.domain)}
    app.config.update(settings(nominatim.domain))
    app.extensions.pop("nearbank.geocoder", None)
    yield nominatim
    app.config.update(saved)
    app.extensions.pop("nearbank.geocoder", None)


def _client_at(client, address: str):
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_a_place_name_is_found_and_named(client, local_geocoder):
    response = client.get(URL, query_string={"q": "  Dean   Street, London "})
    assert response.status_code == 200, response.json
    assert response.json == {"lat": float(FOUND["lat"]), "lon": float(FOUND["lon"]),
                             "label": "10, Dean Street, Soho",
                             "name": FOUND["display_name"]}
    [request] = local_geocoder.requests
    assert request.query["q"] == ["Dean Street, London"]


def test_the_cardholders_language_is_asked_of_the_geocoder(client, local_geocoder):
    client.get(URL, query_string={"q": "Bank"}, headers={"Accept-Language": "zh-CN"})
    client.get(URL, query_string={"q": "Bank"}, headers={"Accept-Language": "en-GB"})
    assert [r.query["accept-language"] for r in local_geocoder.requests] == [
        ["zh-Hans"], ["en"]]


def test_nothing_found_is_a_404_problem(client, local_geocoder):
    response = client.get(URL, query_string={"q": "Nowhere Street"})
    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    assert response.json["type"].endswith("/place-not-found")
    assert "Nowhere" not in response.get_data(as_text=True)


@pytest.mark.parametrize("query", [{"q": ""}, {"q": "   "}, {"q": "x" * 201}, {}])
def test_an_empty_or_too_long_query_is_a_400_naming_q(client, local_geocoder, query):
    response = client.get(URL, query_string=query)
    assert response.status_code == 400
    assert response.mimetype == PROBLEM
    assert {e["field"] for e in response.json["errors"]} == {"q"}
    assert local_geocoder.requests == []


def test_a_failing_geocoder_is_a_503_with_retry_after(client, local_geocoder):
    response = client.get(URL, query_string={"q": "boom town"})
    assert response.status_code == 503
    assert response.mimetype == PROBLEM
    assert int(response.headers["Retry-After"]) > 0
    assert "boom" not in response.get_data(as_text=True)


def test_an_unreachable_geocoder_is_a_503_with_retry_after(app, client):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    saved = {k: app.config[k] for k in settings("x")}
    app.config.update(settings(f"127.0.0.1:{port}"))
    app.extensions.pop("nearbank.geocoder", None)
    try:
        response = client.get(URL, query_string={"q": "Bank"})
    finally:
        app.config.update(saved)
        app.extensions.pop("nearbank.geocoder", None)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0


def test_searches_are_limited_per_client(app, client, local_geocoder):
    saved = app.config["GEOCODE_RATE_LIMIT"]
    app.config["GEOCODE_RATE_LIMIT"] = "2 per minute"
    try:
        one = _client_at(client, "192.0.2.71")
        statuses = [one.get(URL, query_string={"q": "Bank"}).status_code for _ in range(3)]
        other = _client_at(app.test_client(), "192.0.2.72").get(URL, query_string={"q": "Bank"})
    finally:
        app.config["GEOCODE_RATE_LIMIT"] = saved
    assert statuses == [200, 200, 429]
    assert other.status_code == 200
    assert len(local_geocoder.requests) == 3


def test_the_query_text_is_never_logged_or_stored(app, client, session, local_geocoder,
                                                  caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("geopy", "urllib3", "urllib3.connectionpool", "backend", "werkzeug"):
        caplog.set_level(logging.DEBUG, logger=name)
    for query in (SECRET, f"nowhere {SECRET}", f"boom {SECRET}"):
        client.get(URL, query_string={"q": query})
    assert len(local_geocoder.requests) == 3
    assert caplog.records, "the search ran with logging on"
    assert not [r for r in caplog.records if "Secretplace" in r.getMessage()]
    # Nor in any table: every text column of every table of the public schema.
    columns = session.execute(text(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', "
        "'jsonb', 'json')")).all()
    for table, column in columns:
        hits = session.execute(text(
            f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE :q'),
            {"q": "%Secretplace%"}).scalar_one()
        assert hits == 0, (table, column)
    # Nor in the geocoder's cache (the uploads' address cache is not used for searches).
    assert not app.extensions["nearbank.geocoder"]._cache
