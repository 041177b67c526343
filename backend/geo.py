"""Coordinates: parsing, validation, geodesic distance and bearing on the WGS84 ellipsoid."""

from __future__ import annotations

import math

from geographiclib.geodesic import Geodesic
from geopy.point import Point

# The ratio between a geodesic distance on the WGS84 ellipsoid and the same distance on the
# sphere PostGIS uses for its `<->` ordering lies within [0.99442, 1.00449] (the extremes of the
# ellipsoid's radii of curvature over its mean radius). A little margin on top of that:
SPHEROID_OVER_SPHERE_MIN = 0.994


def geodesic_inverse(lat1: float, lon1: float, lat2: float, lon2: float) -> tuple[float, float]:
    """Distance in metres and initial bearing in degrees [0, 360) from point 1 to point 2."""
    result = Geodesic.WGS84.Inverse(lat1, lon1, lat2, lon2)
    return result["s12"], result["azi1"] % 360.0


# Metres per degree of latitude (mean; it varies by under 1% from equator to pole).
_M_PER_DEGREE_LAT = 111_320.0
OFFERS_GRID_M = 100.0


def snap_to_grid(lat: float, lon: float, cell_m: float = OFFERS_GRID_M) -> tuple[float, float]:
    """The centre of the grid cell, about `cell_m` on a side, that contains the point.

    Rows are `cell_m` of latitude tall; each row is cut into a whole number of columns about
    `cell_m` wide at the row's centre, so every point of a cell maps to the same centre, at most
    about 0.71 `cell_m` away.
    """
    lat_step = cell_m / _M_PER_DEGREE_LAT
    rows = math.ceil(180.0 / lat_step)
    row = min(rows - 1, math.floor((lat + 90.0) / lat_step))
    centre_lat = min(90.0, -90.0 + (row + 0.5) * lat_step)
    width_m = cell_m / max(math.cos(math.radians(centre_lat)), 1e-9)
    columns = max(1, math.floor(360.0 / (width_m / _M_PER_DEGREE_LAT)))
    lon_step = 360.0 / columns
    column = math.floor((lon + 180.0) / lon_step) % columns
    centre_lon = -180.0 + (column + 0.5) * lon_step
    return round(centre_lat, 7), round(centre_lon, 7)


def latitude_problem(value: float) -> str | None:
    """Why a latitude is unacceptable, or None; never echoes the value."""
    if not math.isfinite(value):
        return "must be a finite number"
    if -90.0 <= value <= 90.0:
        return None
    if -180.0 <= value <= 180.0:
        return "must be between -90 and 90; this looks like a longitude (are lat and lon swapped?)"
    return "must be between -90 and 90"


def longitude_problem(value: float) -> str | None:
    """Why a longitude is unacceptable, or None; never echoes the value."""
    if not math.isfinite(value):
        return "must be a finite number"
    if -180.0 <= value <= 180.0:
        return None
    return "must be between -180 and 180"


def parse_coordinates(text: str) -> tuple[float, float]:
    """Parse a point as a person types it (decimal, DMS with hemisphere letters) into (lat, lon).

    :raises ValueError: when the text is not a point or is out of range.
    """
    stripped = text.strip()
    if not stripped:
        raise ValueError("no coordinates given")
    try:
        point = Point.from_string(stripped)
    except ValueError as exc:
        raise ValueError("not a recognisable coordinate pair") from exc
    lat, lon = point.latitude, point.longitude
    problem = latitude_problem(lat) or longitude_problem(lon)
    if problem:
        raise ValueError(problem)
    return lat, lon
