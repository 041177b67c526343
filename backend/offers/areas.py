"""An offer's area: a GeoJSON Polygon checked with shapely and measured on the WGS84 spheroid.

A merchant's polygon is refused, never repaired: an open ring, a clockwise exterior ring (RFC
7946 §3.1.6 wants exterior rings counter-clockwise and holes clockwise), a ring that crosses
itself, an area larger than a city or one outside our service regions each get a message that
says what is wrong and how to fix it. Messages never repeat the coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import shapely
from geographiclib.geodesic import Geodesic
from shapely.geometry import LinearRing, Polygon

from backend.regions import region_containing

MAX_AREA_KM2 = 1000.0  # about the size of a large city (Greater London is 1,572 km²)
# About a shopping centre. Smaller areas would single out a house or a doorway.
MIN_AREA_KM2 = 0.05
MAX_POSITIONS = 2000
MAX_RINGS = 20
_SHAPE_HINT = 'must be a GeoJSON Polygon: {"type": "Polygon", "coordinates": [[[lon, lat], ...]]}'


class AreaProblem(ValueError):
    """Why an area polygon is refused (the message is safe to show)."""


@dataclass(frozen=True)
class Area:
    """A checked offer area: the polygon (lon/lat), its size and the market it lies in."""

    polygon: Polygon
    area_km2: float
    country: str


def _position(value: Any, ring: int, index: int) -> tuple[float, float]:
    where = f"ring {ring}, position {index}"
    if not isinstance(value, list | tuple) or len(value) not in (2, 3) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise AreaProblem(f"{where} must be [lon, lat] (numbers, longitude first)")
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise AreaProblem(f"{where} must hold finite numbers")
    if not -180.0 <= lon <= 180.0:
        raise AreaProblem(f"{where}: longitude must be between -180 and 180")
    if not -90.0 <= lat <= 90.0:
        raise AreaProblem(f"{where}: latitude must be between -90 and 90 "
                          "(GeoJSON positions are [lon, lat])")
    return lon, lat


def _rings(document: Any) -> list[list[tuple[float, float]]]:
    if not isinstance(document, dict) or document.get("type") != "Polygon":
        raise AreaProblem(_SHAPE_HINT)
    if set(document) - {"type", "coordinates", "bbox"}:
        raise AreaProblem(_SHAPE_HINT + " and nothing else")
    coordinates = document.get("coordinates")
    if not isinstance(coordinates, list) or not coordinates or not all(
            isinstance(ring, list) for ring in coordinates):
        raise AreaProblem("coordinates must be a list of linear rings, each a list of "
                          "[lon, lat] positions")
    if len(coordinates) > MAX_RINGS:
        raise AreaProblem(f"at most {MAX_RINGS} rings (one exterior ring and its holes)")
    if sum(len(ring) for ring in coordinates) > MAX_POSITIONS:
        raise AreaProblem(f"at most {MAX_POSITIONS} positions in all")
    rings = []
    for number, ring in enumerate(coordinates, start=1):
        positions = [_position(p, number, i) for i, p in enumerate(ring, start=1)]
        if len(positions) < 4:
            raise AreaProblem(f"ring {number} has {len(positions)} positions; a linear ring "
                              "needs at least 4, the last repeating the first")
        if positions[0] != positions[-1]:
            raise AreaProblem(f"ring {number} is not closed: its last position must repeat "
                              "its first (RFC 7946 §3.1.6)")
        rings.append(positions)
    return rings


def geodesic_area_m2(ring: list[tuple[float, float]]) -> float:
    """The area enclosed by a closed lon/lat ring with geodesic edges, on WGS84, in m²."""
    polygon = Geodesic.WGS84.Polygon()
    for lon, lat in ring[:-1]:
        polygon.AddPoint(lat, lon)
    _, _, area = polygon.Compute(False, True)
    return abs(area)


def parse_area(document: Any) -> Area:
    """Check a GeoJSON Polygon for use as an offer area.

    :raises AreaProblem: when it is malformed, open, invalid, not inside one service region,
        wrongly oriented, or larger than MAX_AREA_KM2.
    """
    rings = _rings(document)
    for number, ring in enumerate(rings, start=1):
        if not LinearRing(ring).is_simple:
            raise AreaProblem(f"ring {number} crosses itself; a ring must be simple")
    polygon = Polygon(rings[0], rings[1:])
    if not polygon.is_valid:
        reason = shapely.is_valid_reason(polygon).split("[", 1)[0].strip()
        raise AreaProblem(f"the polygon is not valid ({reason}); holes must lie inside the "
                          "exterior ring without crossing it or each other")
    country = region_containing(polygon)
    if country is None:
        swapped = shapely.transform(polygon, lambda xy: xy[:, ::-1])
        hint = ("; are longitude and latitude swapped? GeoJSON positions are [lon, lat]"
                if region_containing(swapped) else "")
        raise AreaProblem("the area must lie wholly inside one of our service regions "
                          f"(Great Britain, Singapore, Hong Kong){hint}")
    if not polygon.exterior.is_ccw:
        raise AreaProblem("the exterior ring is clockwise; RFC 7946 §3.1.6 requires exterior "
                          "rings counter-clockwise (reverse the order of its positions)")
    for number, hole in enumerate(polygon.interiors, start=2):
        if hole.is_ccw:
            raise AreaProblem(f"ring {number} (a hole) is counter-clockwise; RFC 7946 §3.1.6 "
                              "requires holes clockwise (reverse the order of its positions)")
    area_km2 = (geodesic_area_m2(rings[0]) - sum(geodesic_area_m2(r) for r in rings[1:])) / 1e6
    if area_km2 < MIN_AREA_KM2:
        raise AreaProblem(f"the area is {area_km2 * 1e6:,.0f} m²; an offer area must cover at "
                          f"least {MIN_AREA_KM2 * 1e6:,.0f} m² (about a shopping centre), so "
                          "that it never singles out one address")
    if area_km2 > MAX_AREA_KM2:
        raise AreaProblem(f"the area is {area_km2:,.0f} km²; an offer area may cover at most "
                          f"{MAX_AREA_KM2:,.0f} km² (about a city)")
    return Area(polygon, area_km2, country)
