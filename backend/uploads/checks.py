"""Per-record location checks with evidence: swapped axes, null island, outside the region."""

from __future__ import annotations

# Single-time-zone countries we serve: a record without a time zone gets its country's.
COUNTRY_TIMEZONES = {"GB": "Europe/London", "SG": "Asia/Singapore", "HK": "Asia/Hong_Kong",
                     "IE": "Europe/Dublin"}
NULL_ISLAND_DEGREES = 0.5


def location_warnings(lat: float, lon: float, country: str | None) -> list[tuple[str, str]]:
    """(field, message) warnings about where a point lies, each with its evidence."""
    from backend.regions import in_service_region

    warnings: list[tuple[str, str]] = []
    if abs(lat) < NULL_ISLAND_DEGREES and abs(lon) < NULL_ISLAND_DEGREES:
        warnings.append(("lat", f"the point ({lat:.6f}, {lon:.6f}) is at or near (0, 0): "
                                "probably a missing coordinate"))
        return warnings
    region = in_service_region(lat, lon)
    if region is None:
        swapped = in_service_region(lon, lat) if abs(lon) <= 90 else None
        if swapped is not None:
            warnings.append(("lat", f"probable latitude/longitude swap: ({lat:.6f}, {lon:.6f}) "
                                    f"is outside every service region, but ({lon:.6f}, "
                                    f"{lat:.6f}) lies in {swapped}"))
        else:
            warnings.append(("lat", f"the point ({lat:.6f}, {lon:.6f}) is outside every "
                                    "service region"))
    elif country and region != country:
        warnings.append(("country", f"the point ({lat:.6f}, {lon:.6f}) lies in {region}, "
                                    f"not in the declared country {country}"))
    return warnings
