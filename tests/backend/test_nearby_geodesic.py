"""Nearby search agrees with an independent brute-force geodesic computation (geopy)."""

from __future__ import annotations

from itertools import pairwise

from geographiclib.geodesic import Geodesic
from geopy.distance import geodesic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.backend.factories import add_places, place_fields, public_ids_by_external_id

# Where to look: anywhere, and the places where naive code breaks.
centres = st.one_of(
    st.tuples(st.floats(-80, 80), st.floats(-180, 180)),
    st.tuples(st.floats(-60, 60), st.floats(179.0, 180.0)),      # east of the antimeridian
    st.tuples(st.floats(-60, 60), st.floats(-180.0, -179.0)),    # west of it
    st.tuples(st.floats(88.5, 90.0), st.floats(-180, 180)),      # north pole
    st.tuples(st.floats(-90.0, -88.5), st.floats(-180, 180)),    # south pole
    st.tuples(st.floats(-0.05, 0.05), st.floats(-180, 180)),     # equator
)
offsets = st.lists(
    st.tuples(st.floats(0, 360), st.floats(0, 12_000)), min_size=1, max_size=40
)


def _destination(lat: float, lon: float, azimuth: float, distance: float) -> tuple[float, float]:
    result = Geodesic.WGS84.Direct(lat, lon, azimuth, distance)
    lon2 = (result["lon2"] + 180.0) % 360.0 - 180.0
    return max(-90.0, min(90.0, result["lat2"])), lon2


def _all_pages(client, lat, lon, radius, limit):
    features, cursor = [], None
    for _ in range(200):
        params = {"lat": lat, "lon": lon, "radius_m": radius, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = client.get("/api/v1/places/nearby", query_string=params)
        assert response.status_code == 200, response.json
        features.extend(response.json["features"])
        cursor = response.json["next_cursor"]
        if cursor is None:
            return features
    raise AssertionError("paging did not end")


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(centre=centres, places=offsets, query_offset=st.tuples(st.floats(0, 360),
                                                              st.floats(0, 3000)),
       radius=st.floats(1, 10_000), limit=st.integers(1, 15))
def test_nearest_first_and_radius_match_geodesic(session, client, centre, places, query_offset,
                                                 radius, limit):
    nested = session.begin_nested()
    try:
        points = [_destination(*centre, az, d) for az, d in places]
        external = add_places(session, *(place_fields(lat, lon) for lat, lon in points))
        public = public_ids_by_external_id(session)
        q_lat, q_lon = _destination(*centre, *query_offset)

        distances = [geodesic((q_lat, q_lon), p).meters for p in points]
        expected = [(d, i) for i, d in enumerate(distances) if d <= radius]
        # A point within a millimetre of the circle may fall either side of it.
        borderline = {i for i, d in enumerate(distances) if abs(d - radius) < 1e-3}

        got = _all_pages(client, q_lat, q_lon, radius, limit)
        got_ids = [f["id"] for f in got]
        assert len(set(got_ids)) == len(got_ids), "a place appeared on two pages"
        inside = {public[external[i]] for _, i in expected}
        edge = {public[external[i]] for i in borderline}
        assert inside - edge <= set(got_ids) <= inside | edge

        brute = {public[external[i]]: (d, i) for i, d in enumerate(distances)}
        order = [brute[g] for g in got_ids]
        for (d1, i1), (d2, i2) in pairwise(order):
            assert d2 > d1 - 1e-3, "not nearest first"
            if d1 == d2:
                assert i1 < i2, "tie not broken by id"
        for feature, (d, i) in zip(got, order, strict=True):
            assert abs(feature["properties"]["distance_m"] - d) <= 0.06
            lon, lat = feature["geometry"]["coordinates"]
            assert abs(lat - points[i][0]) < 1e-6 and abs(lon - points[i][1]) < 1e-6
    finally:
        nested.rollback()


def test_bearing_points_from_the_user_to_the_place(session, client):
    add_places(session, place_fields(51.51, -0.12), place_fields(51.50, -0.11))
    response = client.get("/api/v1/places/nearby",
                          query_string={"lat": 51.50, "lon": -0.12, "radius_m": 3000})
    bearings = sorted(f["properties"]["bearing_deg"] for f in response.json["features"])
    north = Geodesic.WGS84.Inverse(51.50, -0.12, 51.51, -0.12)["azi1"] % 360
    east = Geodesic.WGS84.Inverse(51.50, -0.12, 51.50, -0.11)["azi1"] % 360
    assert bearings == [round(north, 1), round(east, 1)]
    assert bearings[0] < 1.0 and 89.0 < bearings[1] < 91.0


def test_knn_candidates_are_widened_until_the_order_is_exact(session, client):
    """Far more places than a page, on a line: every page is still exactly ordered."""
    points = [(0.0, 0.0005 * i) for i in range(150)]
    add_places(session, *(place_fields(lat, lon, timezone="UTC") for lat, lon in points))
    got = _all_pages(client, 0.0, -0.0001, 50_000, 7)
    assert len(got) == 150
    got_distances = [f["properties"]["distance_m"] for f in got]
    assert got_distances == sorted(got_distances)


def test_place_a_hair_from_the_query_point_near_null_island(session, client):
    """PostGIS's KNN check fails here ("index returned tuples in wrong order"); we still answer."""
    add_places(session, place_fields(1e-13, 0.0, timezone="UTC", country="GH"))
    response = client.get("/api/v1/places/nearby", query_string={"lat": 0, "lon": 0})
    assert response.status_code == 200
    assert [f["properties"]["distance_m"] for f in response.json["features"]] == [0.0]
