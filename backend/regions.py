"""The service regions of a deployment: by default coarse polygons of Great Britain, Singapore and
Hong Kong, the three sample markets.

The polygons are deployment configuration: a GeoJSON file (RFC 7946, one Feature per country with
properties `country` and `timezone`) named by the environment variable NEARBANK_SERVICE_REGIONS,
`data/regions/service_regions.geojson` when it is not set. Uploads take records outside them with
a warning, or refuse them when NEARBANK_STRICT_REGIONS is set to 1 / true / yes.
The sample file's polygons They are coarse on purpose: they follow the coast and
borders to within a few kilometres and are meant to refuse points and areas that are clearly
elsewhere (lat and lon swapped, a store in Paris), not to settle borders.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import PreparedGeometry, prep

REGIONS_FILE = Path(__file__).resolve().parent.parent / "data" / "regions" / \
    "service_regions.geojson"
REGIONS_ENV = "NEARBANK_SERVICE_REGIONS"
STRICT_ENV = "NEARBANK_STRICT_REGIONS"


def regions_file() -> Path:
    """The service-region file this deployment uses."""
    return _path(os.environ.get(REGIONS_ENV) or "")


@lru_cache(maxsize=8)
def _path(value: str) -> Path:
    # Uploads ask once per record: one Path per setting, not per call.
    return Path(value) if value else REGIONS_FILE


def strict_regions() -> bool:
    """Whether records outside every service region are refused rather than warned about."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ServiceRegion:
    """One market: its country code, IANA time zone and polygon (lon/lat)."""

    country: str
    timezone: str
    name: str
    geometry: BaseGeometry


def _regions() -> tuple[ServiceRegion, ...]:
    return _regions_of(regions_file())


@lru_cache(maxsize=4)
def _regions_of(path: Path) -> tuple[ServiceRegion, ...]:
    document = json.loads(path.read_text(encoding="utf-8"))
    regions = []
    for feature in document["features"]:
        geometry = shape(feature["geometry"])
        properties = feature["properties"]
        regions.append(ServiceRegion(properties["country"], properties["timezone"],
                                     properties.get("name", properties["country"]), geometry))
    return tuple(regions)


def service_regions() -> dict[str, PreparedGeometry]:
    """Each market's polygon as a prepared geometry, keyed by ISO 3166-1 alpha-2 code."""
    return _service_regions_of(regions_file())


@lru_cache(maxsize=4)
def _service_regions_of(path: Path) -> dict[str, PreparedGeometry]:
    return {region.country: prep(region.geometry) for region in _regions_of(path)}


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


def _prepared_regions() -> tuple[ServiceRegion, ...]:
    return _prepared_regions_of(regions_file())


@lru_cache(maxsize=4)
def _prepared_regions_of(path: Path) -> tuple[ServiceRegion, ...]:
    regions = _regions_of(path)
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
