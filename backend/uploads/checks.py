"""Per-record location checks with evidence: swapped axes, null island, outside the regions,
a declared country or time zone that disagrees with the point."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from backend import world

NULL_ISLAND_DEGREES = 0.5


def location_problems(lat: float, lon: float, country: str | None,
                      timezone: str | None) -> list[tuple[str, str, str]]:
    """(severity, field, message) about where a point lies, each with its evidence.

    Exactly (0, 0) is an error (a missing coordinate written as zeros); outside every service
    region is a warning, or an error when the deployment is strict (NEARBANK_STRICT_REGIONS).
    """
    from backend.regions import in_service_region, strict_regions

    found: list[tuple[str, str, str]] = []
    if lat == 0 and lon == 0:
        return [("error", "lat", "the point is exactly (0, 0): a missing coordinate written as "
                                 "zeros; give the real coordinates")]
    if abs(lat) < NULL_ISLAND_DEGREES and abs(lon) < NULL_ISLAND_DEGREES:
        return [("warning", "lat", f"the point ({lat:.6f}, {lon:.6f}) is at or near (0, 0): "
                                   "probably a missing coordinate")]
    region = in_service_region(lat, lon)
    outside = "error" if strict_regions() else "warning"
    if region is None:
        swapped = in_service_region(lon, lat) if abs(lon) <= 90 else None
        if swapped is not None:
            found.append((outside, "lat",
                          f"probable latitude/longitude swap: ({lat:.6f}, {lon:.6f}) is outside "
                          f"every service region, but ({lon:.6f}, {lat:.6f}) lies in {swapped}"))
        else:
            found.append((outside, "lat", f"the point ({lat:.6f}, {lon:.6f}) is outside every "
                                          "service region"))
    if country:
        found += _country_disagreement(lat, lon, country, region)
    if timezone:
        found += _timezone_disagreement(lat, lon, timezone)
    return found


def _country_disagreement(lat: float, lon: float, country: str,
                          region: str | None) -> list[tuple[str, str, str]]:
    match = world.country_at(lat, lon)
    if match is None or match.code == country:
        return []
    metres = world.distance_to_country(lat, lon, country)
    distance = "" if metres is None else f", {_km(metres)} from {country}'s border"
    if region and region != match.code:
        region = None
    where = region or match.code
    if metres is None:
        distance = f" ({country} is not a country the boundary data knows)"
    return [("warning", "country", f"the point ({lat:.6f}, {lon:.6f}) lies in {where}, not in "
                                   f"the declared country {country}{distance}")]


def _km(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{metres:.0f} m"


def _timezone_disagreement(lat: float, lon: float, timezone: str) -> list[tuple[str, str, str]]:
    found = world.timezone_at(lat, lon)
    if found is None or found == timezone or _same_clock(found, timezone):
        return []
    return [("warning", "timezone", f"{timezone} is given but the point ({lat:.6f}, "
                                    f"{lon:.6f}) lies in {found}; the given zone is used")]


@lru_cache(maxsize=1024)
def _same_clock(first: str, second: str) -> bool:
    """Whether two zones show the same time through this year and the next (aliases do)."""
    try:
        zones = ZoneInfo(first), ZoneInfo(second)
    except (ValueError, KeyError):
        return False
    start = datetime(datetime.now().year, 1, 1)
    instants = [start + timedelta(days=day) for day in range(0, 731, 3)]
    return all(zones[0].utcoffset(t) == zones[1].utcoffset(t) for t in instants)
