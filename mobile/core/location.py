"""Where the cardholder is: GPS on a phone, a place set or typed on a desktop; never a guess.

Also the rounding that applies the chosen precision before coordinates leave the device.
"""

from __future__ import annotations

import contextlib
import re
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from geopy.point import Point

from mobile.core.platform_ import is_android

PRECISIONS = ("exact", "100m", "1km")
# Decimal places kept: 3 decimals of a degree are at most ~111 m, 2 decimals ~1.1 km.
_DECIMALS = {"exact": 6, "100m": 3, "1km": 2}


@dataclass(frozen=True)
class Fix:
    """A position and where it came from (gps, settings or typed)."""

    lat: float
    lon: float
    source: str
    label: str | None = None


class LocationUnavailable(Exception):
    """No position: `reason` is 'denied', 'unavailable' or 'not_set'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LocationParseError(ValueError):
    """Typed text is not a position in any notation we understand."""


LocationResult = Fix | LocationUnavailable


class LocationProvider(Protocol):
    """Asks for the current position; calls `done` once, possibly from another thread."""

    def locate(self, done: Callable[[LocationResult], None]) -> None:
        """Find the position and report it (or why there is none) to `done`."""


def round_for_precision(lat: float, lon: float, precision: str) -> tuple[float, float]:
    """The coordinates as precise as the cardholder allows: exact, ~100 m or ~1 km."""
    try:
        decimals = _DECIMALS[precision]
    except KeyError:
        raise ValueError(f"unknown precision {precision!r}") from None
    return round(lat, decimals) + 0.0, round(lon, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


_DECIMAL_PAIR = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*[,;\s]\s*([-+]?\d+(?:\.\d+)?)\s*$")


def parse_location(text: str) -> tuple[float, float]:
    """Parse a typed position in a common notation (decimal, degrees-minutes-seconds, geo: URI).

    :raises LocationParseError: when the text is not a position, or is out of range.
    """
    cleaned = text.strip()
    if cleaned.lower().startswith("geo:"):
        cleaned = cleaned[4:].split("?", 1)[0].split(";", 1)[0]
    if not cleaned:
        raise LocationParseError("empty")
    match = _DECIMAL_PAIR.match(cleaned)
    if match:
        lat, lon = float(match.group(1)), float(match.group(2))
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                point = Point.from_string(cleaned)
            except ValueError:
                raise LocationParseError("unknown notation") from None
        if caught:  # geopy normalised an out-of-range value: that would be a guess
            raise LocationParseError("out of range")
        lat, lon = point.latitude, point.longitude
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise LocationParseError("out of range")
    return lat, lon


class FixedLocationProvider:
    """A position set in settings or typed by the user; 'not_set' when there is none."""

    def __init__(self, get_fix: Callable[[], Fix | None]) -> None:
        self._get_fix = get_fix

    def locate(self, done: Callable[[LocationResult], None]) -> None:
        """Report the set position at once."""
        fix = self._get_fix()
        done(fix if fix is not None else LocationUnavailable("not_set"))


class GpsLocationProvider:  # pragma: no cover - needs a phone's GPS
    """plyer's GPS: the first fix, then the GPS is switched off again to save battery."""

    def __init__(self, give_up_after_s: float = 20.0) -> None:
        self.give_up_after_s = give_up_after_s

    def locate(self, done: Callable[[LocationResult], None]) -> None:
        """Ask for permission if needed, start the GPS and report its first fix."""
        if is_android():
            from android.permissions import Permission, request_permissions

            def on_permissions(permissions: list[str], grants: list[bool]) -> None:
                if any(grants):
                    self._start(done)
                else:
                    done(LocationUnavailable("denied"))

            request_permissions([Permission.ACCESS_FINE_LOCATION,
                                 Permission.ACCESS_COARSE_LOCATION], on_permissions)
        else:
            self._start(done)

    def _start(self, done: Callable[[LocationResult], None]) -> None:
        from plyer import gps

        reported = threading.Event()

        def report(result: LocationResult) -> None:
            if not reported.is_set():
                reported.set()
                with contextlib.suppress(Exception):  # a GPS that never started
                    gps.stop()
                done(result)

        def on_location(**kwargs: float) -> None:
            report(Fix(float(kwargs["lat"]), float(kwargs["lon"]), "gps"))

        def on_status(stype: str, status: str) -> None:
            if stype == "provider-disabled":
                report(LocationUnavailable("unavailable"))

        try:
            gps.configure(on_location=on_location, on_status=on_status)
            gps.start(minTime=1000, minDistance=0)
        except NotImplementedError:
            report(LocationUnavailable("unavailable"))
            return
        timer = threading.Timer(self.give_up_after_s,
                                lambda: report(LocationUnavailable("unavailable")))
        timer.daemon = True
        timer.start()


def gps_available() -> bool:
    """True on a phone build, where plyer has a GPS; desktops have none."""
    return is_android()


class DeviceLocationProvider:
    """The position the user set or typed if any, else the GPS where there is one."""

    def __init__(self, get_fix: Callable[[], Fix | None],
                 gps: LocationProvider | None = None) -> None:
        self._fixed = FixedLocationProvider(get_fix)
        self._get_fix = get_fix
        self._gps = gps

    def locate(self, done: Callable[[LocationResult], None]) -> None:
        """Report the set position, or ask the GPS, or say that none is set."""
        if self._get_fix() is None and self._gps is not None:
            self._gps.locate(done)
        else:
            self._fixed.locate(done)
