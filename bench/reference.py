"""The naive reference: every query scans all points held in arrays, in Python.

A haversine pass over every point (numpy) keeps the candidates that can be within the radius;
the exact WGS84 geodesic (geographiclib) then orders them, ties broken by id, as the API
promises. The bounds between sphere and spheroid distances are our own, wider than the
service's, so that the reference does not share the code under test's assumptions.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

import numpy as np
from geographiclib.geodesic import Geodesic

# PostGIS's sphere for geography `<->` is the WGS84 mean radius (2a + b) / 3.
SPHERE_RADIUS_M = 6_371_008.7714
# A spheroid distance is within [0.99442, 1.00449] times the sphere distance; with margin:
RATIO_LOW, RATIO_HIGH = 0.99, 1.01
# HTTP distances are rounded to 0.1 m; PostGIS and geographiclib agree to far below 1 mm.
HTTP_DISTANCE_TOLERANCE_M = 0.05 + 0.001
SQL_DISTANCE_TOLERANCE_M = 0.001
# Distinct points whose exact distances differ by less than this may be ordered either way by
# two correct implementations (floating point); exactly equal distances must be ordered by id.
NEAR_TIE_M = 0.001
CUT_SLACK = 10  # reference results beyond the limit, to judge near ties at the cut

_GEODESIC = Geodesic.WGS84
_DISTANCE = Geodesic.DISTANCE


@dataclass(frozen=True)
class Hit:
    """One reference result."""

    id: int
    public_id: str
    distance_m: float


class BruteForce:
    """All non-decommissioned places in arrays; each query looks at every one of them."""

    def __init__(self, ids: list[int], public_ids: list[str], lats: list[float],
                 lons: list[float]) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self.public_ids = public_ids
        self.lats = np.asarray(lats, dtype=np.float64)
        self.lons = np.asarray(lons, dtype=np.float64)
        self._lat_rad = np.radians(self.lats)
        self._lon_rad = np.radians(self.lons)
        self._cos_lat = np.cos(self._lat_rad)

    @classmethod
    def from_connection(cls, conn: Any) -> BruteForce:
        """Read every place from the database (a psycopg connection), keep the searchable ones."""
        ids, public_ids, lats, lons = [], [], [], []
        with conn.cursor() as cur:
            cur.execute("SELECT id, public_id::text, ST_Y(location::geometry), "
                        "ST_X(location::geometry), status FROM places ORDER BY id")
            for row_id, public_id, lat, lon, status in cur:
                if status != "decommissioned":
                    ids.append(row_id)
                    public_ids.append(public_id)
                    lats.append(lat)
                    lons.append(lon)
        return cls(ids, public_ids, lats, lons)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        """Memory of the arrays (public ids excluded)."""
        return sum(a.nbytes for a in (self.ids, self.lats, self.lons, self._lat_rad,
                                      self._lon_rad, self._cos_lat))

    def _sphere_m(self, lat: float, lon: float) -> np.ndarray:
        """Haversine distance from the point to every place, in metres."""
        lat_r, lon_r = np.radians(lat), np.radians(lon)
        half_dlat = (self._lat_rad - lat_r) / 2.0
        half_dlon = (self._lon_rad - lon_r) / 2.0
        h = np.sin(half_dlat) ** 2 + np.cos(lat_r) * self._cos_lat * np.sin(half_dlon) ** 2
        return 2.0 * SPHERE_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))

    def _exact(self, lat: float, lon: float, index: int) -> float:
        return _GEODESIC.Inverse(lat, lon, float(self.lats[index]), float(self.lons[index]),
                                 _DISTANCE)["s12"]

    def nearest(self, lat: float, lon: float, radius_m: float, count: int) -> list[Hit]:
        """The `count` nearest places within the radius by geodesic distance, ties by id."""
        sphere = self._sphere_m(lat, lon)
        candidates = np.flatnonzero(sphere * RATIO_LOW <= radius_m)
        candidates = candidates[np.argsort(sphere[candidates], kind="stable")]
        best: list[tuple[float, int, int]] = []  # max-heap of (-distance, -id, index)
        for index in candidates:
            if len(best) == count and sphere[index] * RATIO_LOW > -best[0][0]:
                break  # every remaining candidate is farther than the count-th best
            distance = self._exact(lat, lon, index)
            if distance > radius_m:
                continue
            entry = (-distance, -int(self.ids[index]), int(index))
            if len(best) < count:
                heapq.heappush(best, entry)
            elif entry > best[0]:
                heapq.heapreplace(best, entry)
        ordered = sorted((-d, -i, index) for d, i, index in best)
        return [Hit(row_id, self.public_ids[index], distance)
                for distance, row_id, index in ordered]

    def distance_to(self, lat: float, lon: float, row_id: int) -> float | None:
        """Exact distance to the place with this id, or None if it is not searchable."""
        index = int(np.searchsorted(self.ids, row_id))
        if index >= len(self.ids) or self.ids[index] != row_id:
            return None
        return self._exact(lat, lon, index)

    def count_within(self, lat: float, lon: float, radius_m: float) -> int:
        """How many places lie within the radius (exact geodesic near the edge)."""
        sphere = self._sphere_m(lat, lon)
        sure = int(np.count_nonzero(sphere * RATIO_HIGH <= radius_m))
        edge = np.flatnonzero((sphere * RATIO_HIGH > radius_m) & (sphere * RATIO_LOW <= radius_m))
        return sure + sum(1 for index in edge if self._exact(lat, lon, index) <= radius_m)


@dataclass(frozen=True)
class Verdict:
    """How a result page compares with the reference."""

    ok: bool
    near_ties: int = 0
    problem: str = ""


def compare_page(expected: list[Hit], got: list[tuple[str, float]], limit: int,
                 tolerance_m: float) -> Verdict:
    """Same ids in the same order, distances within the tolerance.

    `expected` is the reference's nearest `limit + CUT_SLACK`; `got` is (public id, distance)
    in the order the API gave. Distinct places whose distances differ by at most NEAR_TIE_M may
    come in either order (counted in near_ties); exactly equal distances must be ordered by id.
    """
    want = expected[:limit]
    if len(got) != len(want):
        return Verdict(False, problem=f"{len(got)} results, the reference has {len(want)}")
    if len({public_id for public_id, _ in got}) != len(got):
        return Verdict(False, problem="a place appears twice")
    by_id = {hit.public_id: hit for hit in expected}
    near_ties = 0
    for position, ((public_id, distance), hit) in enumerate(zip(got, want, strict=True)):
        if abs(distance - hit.distance_m) > tolerance_m:
            return Verdict(False, problem=f"#{position}: distance {distance} m, the reference "
                                          f"says {hit.distance_m:.4f} m")
        if public_id == hit.public_id:
            continue
        other = by_id.get(public_id)
        if other is None or other.distance_m == hit.distance_m \
                or abs(other.distance_m - hit.distance_m) > NEAR_TIE_M:
            return Verdict(False, problem=f"#{position}: {public_id} where the reference has "
                                          f"{hit.public_id} ({hit.distance_m:.4f} m)")
        near_ties += 1
    return Verdict(True, near_ties)
