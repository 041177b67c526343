"""The benchmark's generator and brute-force reference agree with the SQL and the endpoint."""

from __future__ import annotations

from itertools import pairwise

from bench.generate import copy_places, query_points
from bench.reference import (
    CUT_SLACK,
    HTTP_DISTANCE_TOLERANCE_M,
    SQL_DISTANCE_TOLERANCE_M,
    BruteForce,
    compare_page,
)
from bench.run import nearby_path
from bench.sqlbench import first_round_k, sql_rows

RADIUS_M = 5000.0
LIMIT = 20


def test_generated_places_match_brute_force_over_sql_and_http(session, client):
    # COPY through the test transaction's own psycopg connection, so it all rolls back.
    raw = session.connection().connection.driver_connection
    assert copy_places(raw, 2000, seed=7, progress=False) == 2000
    brute = BruteForce.from_connection(raw)
    assert 1900 < len(brute) <= 2000  # decommissioned places are not searchable

    # A branch with its ATM on the same spot: both at exactly the same distance.
    shared = raw.execute(
        "SELECT ST_Y(location::geometry), ST_X(location::geometry) FROM places "
        "WHERE status <> 'decommissioned' GROUP BY location HAVING count(*) > 1 LIMIT 1"
    ).fetchone()
    assert shared is not None
    points = [*query_points(6, seed=7), (shared[0], shared[1])]

    full_pages = exact_ties = 0
    for lat, lon in points:
        expected = brute.nearest(lat, lon, RADIUS_M, LIMIT + CUT_SLACK)
        full_pages += len(expected) > LIMIT
        exact_ties += any(a.distance_m == b.distance_m for a, b in pairwise(expected))

        response = client.get(nearby_path(lat, lon, RADIUS_M, LIMIT))
        assert response.status_code == 200, response.json
        got = [(f["id"], f["properties"]["distance_m"]) for f in response.json["features"]]
        verdict = compare_page(expected, got, LIMIT, HTTP_DISTANCE_TOLERANCE_M)
        assert verdict.ok, verdict.problem

        rows = sql_rows(raw, lat, lon, RADIUS_M, LIMIT)
        assert len(rows) == min(first_round_k(LIMIT), brute.count_within(lat, lon, RADIUS_M))
        for row in rows:
            exact = brute.distance_to(lat, lon, row["id"])
            assert exact is not None and exact <= RADIUS_M
            assert abs(row["distance_m"] - exact) <= SQL_DISTANCE_TOLERANCE_M

    assert full_pages >= 1 and exact_ties >= 1  # the checks covered full pages and exact ties
