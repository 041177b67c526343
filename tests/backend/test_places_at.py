"""`at=`: open now and next change for a chosen moment, on place detail and nearby answers."""

from __future__ import annotations

import pytest

from backend.places.service import bearing_degrees
from tests.backend.factories import add_places, place_fields, public_ids_by_external_id

PROBLEM = "application/problem+json"
LONDON = {"lat": 51.5074, "lon": -0.1278}


@pytest.fixture
def dst_places(session):
    add_places(
        session,
        # 2027-03-28: London's clocks go from 01:00 GMT to 02:00 BST.
        place_fields(51.5075, -0.1278, external_id="GAP", name="Gap branch",
                     opening_hours="Su 01:30-02:30"),
        place_fields(51.5076, -0.1278, external_id="PHANTOM", name="Phantom branch",
                     opening_hours="Mo-Su 01:30-01:45"),
        place_fields(-33.8688, 151.2093, external_id="SYD", name="Sydney branch",
                     country="AU", timezone="Australia/Sydney", opening_hours="Su 02:30-04:00"),
    )
    return public_ids_by_external_id(session)


def detail(client, pid, at):
    response = client.get(f"/api/v1/places/{pid}", query_string={"at": at})
    assert response.status_code == 200, response.json
    return response.json["properties"]


def test_a_start_in_the_spring_forward_gap_opens_when_the_clock_jumps(client, dst_places):
    before = detail(client, dst_places["GAP"], "2027-03-28T00:45:00Z")
    assert before["open_now"] is False
    assert before["next_change"] == {"at": "2027-03-28T02:00:00+01:00", "kind": "opens"}
    during = detail(client, dst_places["GAP"], "2027-03-28T02:10:00+01:00")
    assert during["open_now"] is True
    assert during["next_change"] == {"at": "2027-03-28T02:30:00+01:00", "kind": "closes"}
    sydney = detail(client, dst_places["SYD"], "2027-10-03T01:30:00+10:00")
    assert sydney["next_change"] == {"at": "2027-10-03T03:00:00+11:00", "kind": "opens"}


def test_hours_wholly_inside_the_gap_do_not_open_that_night(client, dst_places):
    properties = detail(client, dst_places["PHANTOM"], "2027-03-28T01:35:00Z")  # 02:35 BST
    assert properties["open_now"] is False
    assert properties["next_change"] == {"at": "2027-03-29T01:30:00+01:00", "kind": "opens"}


def test_the_week_shown_is_the_week_of_at(client, dst_places):
    properties = detail(client, dst_places["GAP"], "2027-03-28T12:00:00Z")
    week = properties["opening_hours"]["week"]
    assert week[0]["date"] == "2027-03-28" and week[0]["today"] is True


def test_nearby_answers_for_at_and_filters_on_it(client, dst_places):
    response = client.get("/api/v1/places/nearby", query_string={
        **LONDON, "at": "2027-03-28T01:10:00Z", "open_now": "true"})
    assert response.status_code == 200, response.json
    assert [f["properties"]["name"] for f in response.json["features"]] == ["Gap branch"]
    closed = client.get("/api/v1/places/nearby", query_string={
        **LONDON, "at": "2027-03-28T01:40:00Z", "open_now": "true"}).json
    assert closed["features"] == []


@pytest.mark.parametrize(("at", "says"), [
    ("tomorrow", "is not an ISO 8601 date-time"),
    ("2027-03-28T25:00:00Z", "is not an ISO 8601 date-time"),
    ("2027-03-28T01:30:00", "Give a UTC offset"),
    ("1900-01-01T00:00:00Z", "from 1970 to 2099"),
    ("9999-12-31T23:59:59+00:00", "from 1970 to 2099"),
])
def test_a_bad_at_is_a_400_naming_it(client, dst_places, at, says):
    for url, params in ((f"/api/v1/places/{dst_places['GAP']}", {}),
                        ("/api/v1/places/nearby", LONDON), ("/api/v1/atms/nearby", LONDON)):
        response = client.get(url, query_string={**params, "at": at})
        assert response.status_code == 400, (url, response.json)
        assert response.content_type == PROBLEM
        error = response.json["errors"][0]
        assert error["field"] == "at" and says in error["message"]


@pytest.mark.parametrize(("raw", "shown"), [
    (0.0, 0.0), (359.94, 359.9), (359.96, 0.0), (359.99, 0.0), (180.04, 180.0)])
def test_bearings_stay_in_zero_to_360(raw, shown):
    assert bearing_degrees(raw) == shown
