"""The service regions of our three markets: coarse polygons of Great Britain, Singapore, Hong Kong.

The polygons live in `data/regions/service_regions.geojson` (RFC 7946, one Feature per country
with properties `country` and `timezone`). They are coarse on purpose: they follow the coast and
borders to within a few kilometres and are meant to refuse points and areas that are clearly
elsewhere (lat and lon swapped, a store in Paris), not to settle borders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import PreparedGeometry, prep

REGIONS_FILE = Path(__file__).resolve().parent.parent / "data" / "regions" / \
    "service_regions.geojson"


@dataclass(frozen=True)
class ServiceRegion:
    """One market: its country code, IANA time zone and polygon (lon/lat)."""

    country: str
    timezone: str
    name: str
    geometry: BaseGeometry


@lru_cache(maxsize=1)
def _regions() -> tuple[ServiceRegion, ...]:
    document = json.loads(REGIONS_FILE.read_text(encoding="utf-8"))
    regions = []
    for feature in document["features"]:
        geometry = shape(feature["geometry"])
        properties = feature["properties"]
        regions.append(ServiceRegion(properties["country"], properties["timezone"],
                                     properties.get("name", properties["country"]), geometry))
    return tuple(regions)


@lru_cache(maxsize=1)
def service_regions() -> dict[str, PreparedGeometry]:
    """Each market's polygon as a prepared geometry, keyed by ISO 3166-1 alpha-2 code."""
    return {region.country: prep(region.geometry) for region in _regions()}


def region_of(country: str) -> ServiceRegion | None:
    """The service region of a country code, or None."""
    return next((r for r in _regions() if r.country == country), None)


def in_service_region(lat: float, lon: float) -> str | None:
    """The country code of the service region containing a point, or None."""
    # contains_xy on prepared polygons: no Point object per call (uploads check 10^6 points).
    for region in _prepared_regions():
        if shapely.contains_xy(region.geometry, lon, lat):
            return region.country
    return None


@lru_cache(maxsize=1)
def _prepared_regions() -> tuple[ServiceRegion, ...]:
    regions = _regions()
    for region in regions:  # preparing in place changes no answer, only speed
        shapely.prepare(region.geometry)
    return regions


def region_containing(geometry: BaseGeometry) -> str | None:
    """The country code of the service region that wholly contains a geometry, or None."""
    for country, region in service_regions().items():
        if region.contains(geometry):
            return country
    return None


def timezone_of(country: str) -> str | None:
    """The IANA time zone of a market, or None for a country we do not serve."""
    region = region_of(country)
    return region.timezone if region else None
