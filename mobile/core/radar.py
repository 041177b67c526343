"""The offline map: places drawn around the user by bearing and distance, with a scale ring."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mobile.core.models import Place

_NICE = (50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000, 20_000, 25_000, 50_000)


def ring_distance(places: Sequence[Place]) -> float:
    """A round distance (100 m, 500 m, 2 km…) at least as far as the farthest place."""
    farthest = max((p.distance_m or 0.0 for p in places), default=0.0)
    for nice in _NICE:
        if farthest <= nice:
            return float(nice)
    return float(math.ceil(farthest / 10_000) * 10_000)


@dataclass(frozen=True)
class Marker:
    """Where a place is drawn, relative to the centre, in pixels (y up, north up)."""

    place: Place
    dx: float
    dy: float


def project(places: Sequence[Place], ring_m: float, ring_px: float) -> list[Marker]:
    """Place each result at its bearing, at distance × (ring_px / ring_m) from the centre."""
    markers = []
    scale = ring_px / ring_m if ring_m > 0 else 0.0
    for place in places:
        if place.distance_m is None or place.bearing_deg is None:
            continue
        r = place.distance_m * scale
        angle = math.radians(place.bearing_deg)
        markers.append(Marker(place, r * math.sin(angle), r * math.cos(angle)))
    return markers


def hit(markers: Sequence[Marker], dx: float, dy: float, tolerance: float) -> Place | None:
    """The place whose marker is nearest to a tap, if within `tolerance` pixels."""
    best, best_d = None, tolerance
    for marker in markers:
        d = math.hypot(marker.dx - dx, marker.dy - dy)
        if d <= best_d:
            best, best_d = marker.place, d
    return best
