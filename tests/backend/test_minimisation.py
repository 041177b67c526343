"""Offers near me use the cardholder's point only to about 100 m; branch and ATM search keep it
exact (a cardholder needs it to find a door)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.geo import geodesic_inverse, snap_to_grid
from tests.backend.factories import add_places, place_fields
from tests.backend.offer_factories import (  # noqa: F401 (a fixture)
    OfferWorld,
    fast_password_hashing,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")
STORE = (51.5034, -0.1246)


@pytest.fixture
def world(client, login):
    return OfferWorld(client, login)


def moved(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """A point some metres north and east of another (small distances)."""
    from geographiclib.geodesic import Geodesic

    step = Geodesic.WGS84.Direct(lat, lon, 0.0, north_m)
    step = Geodesic.WGS84.Direct(step["lat2"], step["lon2"], 90.0, east_m)
    return step["lat2"], step["lon2"]


@settings(max_examples=300, deadline=None)
@given(st.floats(-85, 85), st.floats(-180, 180, exclude_max=True))
def test_a_point_moves_to_its_cell_centre_at_most_about_71_m(lat, lon):
    centre = snap_to_grid(lat, lon)
    assert geodesic_inverse(lat, lon, *centre)[0] <= 72.0
    assert snap_to_grid(*centre) == centre  # a centre is its own cell's centre


def test_cells_are_about_100_m_on_a_side():
    centre = snap_to_grid(51.5007, -0.1246)
    north = snap_to_grid(*moved(*centre, 100.0, 0.0))
    east = snap_to_grid(*moved(*centre, 0.0, 100.0))
    # Rows are 100 m tall; each row has its own whole number of columns, so a row's cells need
    # not line up with the next row's.
    assert geodesic_inverse(centre[0], 0, north[0], 0)[0] == pytest.approx(100.0, abs=1.0)
    assert geodesic_inverse(*centre, *east)[0] == pytest.approx(100.0, abs=1.0)
    for lat, lon in ((1.2867, 103.8533), (22.2783, 114.1747), (-33.86, 151.21)):
        c = snap_to_grid(lat, lon)
        e = snap_to_grid(*moved(*c, 0.0, 100.0))
        assert geodesic_inverse(*c, *e)[0] == pytest.approx(100.0, abs=2.0)


def test_points_in_one_cell_get_the_same_answer_measured_from_its_centre(world):
    merchant = world.merchant()
    world.offer(merchant, [world.store(merchant, *STORE)])
    headers = world.cardholder()
    centre = snap_to_grid(51.5007, -0.1246)
    answers = []
    for north_m, east_m in ((0, 0), (30, -30), (-30, 30), (-40, -40)):
        point = moved(*centre, north_m, east_m)
        assert snap_to_grid(*point) == centre
        response = world.nearby(headers, *point)
        assert response.status_code == 200
        answers.append(response.json)
    assert all(answer == answers[0] for answer in answers)
    properties = answers[0]["features"][0]["properties"]
    distance, bearing = geodesic_inverse(*centre, *STORE)
    assert properties["distance_m"] == pytest.approx(distance, abs=0.2)
    assert properties["bearing_deg"] == pytest.approx(bearing, abs=0.2)
    # A point in the next cell north is measured from that cell's centre.
    next_point = moved(*centre, 100, 0)
    further = world.nearby(headers, *next_point).json["features"][0]["properties"]
    next_distance = geodesic_inverse(*snap_to_grid(*next_point), *STORE)[0]
    assert further["distance_m"] == pytest.approx(next_distance, abs=0.2)
    assert abs(further["distance_m"] - properties["distance_m"]) > 50


def test_branch_and_atm_search_keep_the_exact_point(client, session):
    add_places(session, place_fields(51.5034, -0.1246, name="Whitehall branch"),
               place_fields(51.5036, -0.1240, name="Whitehall ATM", kind="atm"))
    centre = snap_to_grid(51.5007, -0.1246)
    for path in ("/api/v1/branches/nearby", "/api/v1/atms/nearby", "/api/v1/places/nearby"):
        distances = []
        for north_m in (0, 20):
            lat, lon = moved(*centre, north_m, 0)
            response = client.get(path, query_string={"lat": lat, "lon": lon})
            assert response.status_code == 200
            distances.append(response.json["features"][0]["properties"]["distance_m"])
        assert distances[0] - distances[1] == pytest.approx(20.0, abs=0.5), path
