"""One coordinate as people type it: decimal degrees, zero-padded, or degrees-minutes-seconds.

Accepted, per value: 51.5074, -0.1278, "052.24343500", "-000.1234", "+51.5", "51.5074 N",
"N 51.5074", "51°30'26\"N", "0°7'39\"W", "51 30 26 N", "51°30.5'N", "51d30m26sN", "-0 7 39".
The symbols are geopy's (geopy.format) plus the look-alikes keyboards produce (º ’ ” and '').
Pairs ("51.5, -0.12") are backend.geo.parse_coordinates' job (geopy's Point.from_string).
Error messages never repeat the value (see docs/architecture.md, privacy).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Literal

from geopy.format import DEGREE, DOUBLE_PRIME, PRIME

from backend.geo import latitude_problem, longitude_problem

Axis = Literal["lat", "lon"]

NOT_A_COORDINATE = ("not a coordinate: use decimal degrees (51.5074) or degrees, minutes and "
                    "seconds (51°30'26\"N)")
_DEGREE_MARKS = re.escape(DEGREE + "º˚d")
_MINUTE_MARKS = re.escape(PRIME + "'’‘´m")
_SECOND_MARKS = re.escape(DOUBLE_PRIME + "\"”“")
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_DECIMAL = re.compile(rf"[+-]?{_NUMBER}(?:[eE][+-]?[0-9]+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]+,[0-9]+")
# A separator (a mark or a space) is required between parts, so "5130" is never 51°30'.
_DMS = re.compile(rf"""
    (?P<front>[NSEW])?\s*
    (?P<sign>[+-])?\s*
    (?P<degrees>{_NUMBER})
    (?:
        (?:\s*[{_DEGREE_MARKS}]\s*|\s+)
        (?P<minutes>{_NUMBER})
        (?:
            (?:\s*[{_MINUTE_MARKS}]\s*|\s+)
            (?P<seconds>{_NUMBER})
            # A letter s marks seconds only before a hemisphere: "26s N", while "26 S" is south.
            (?:\s*(?:[{_SECOND_MARKS}]|''|{PRIME}{PRIME}|s(?=\s*[NSEW])))?
          | \s*[{_MINUTE_MARKS}]
        )?
      | \s*[{_DEGREE_MARKS}]
    )?
    \s*(?P<back>[NSEW])?
""", re.VERBOSE | re.IGNORECASE)
_HEMISPHERES = {"lat": "NS", "lon": "EW"}
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2013": "-"})


def parse_coordinate(value: object, axis: Axis) -> float:
    """A latitude (axis "lat") or longitude ("lon") in decimal degrees from a typed value.

    :raises ValueError: with a short message that does not repeat the value, when the value is
        not a coordinate, its hemisphere letter belongs to the other axis, or it is out of range.
    """
    if axis not in _HEMISPHERES:
        raise ValueError(f"axis must be 'lat' or 'lon', not {axis!r}")
    if isinstance(value, bool):
        raise ValueError(NOT_A_COORDINATE)
    if isinstance(value, int | float | Decimal):
        number = float(value)
    elif isinstance(value, str):
        number = _parse_text(value, axis)
    elif value is None:
        raise ValueError("no coordinate given")
    else:
        raise ValueError(NOT_A_COORDINATE)
    problem = latitude_problem(number) if axis == "lat" else longitude_problem(number)
    if problem:
        raise ValueError(problem)
    return number


def _parse_text(value: str, axis: Axis) -> float:
    text = value.strip().translate(_MINUS_SIGNS)
    if not text:
        raise ValueError("no coordinate given")
    if _DECIMAL.fullmatch(text):
        return float(text)
    if _DECIMAL_COMMA.fullmatch(text):
        raise ValueError("uses a decimal comma: write the decimals after a point (51.5074)")
    match = _DMS.fullmatch(text)
    if match is None:
        raise ValueError(NOT_A_COORDINATE)
    front, back, sign = match["front"], match["back"], match["sign"]
    if front and back:
        raise ValueError("has two hemisphere letters: use one")
    hemisphere = (front or back or "").upper()
    if hemisphere and hemisphere not in _HEMISPHERES[axis]:
        wanted, other = ("N or S", "longitude") if axis == "lat" else ("E or W", "latitude")
        raise ValueError(f"has the {other} hemisphere letter {hemisphere}: "
                         f"a {'latitude' if axis == 'lat' else 'longitude'} takes {wanted}")
    if hemisphere and sign == "-":
        raise ValueError("has both a minus sign and a hemisphere letter: use one")
    degrees, minutes, seconds = match["degrees"], match["minutes"], match["seconds"]
    # 51.5°30' is ambiguous: only the last part may have decimals.
    if (minutes is not None and "." in degrees) or (seconds is not None and "." in minutes):
        raise ValueError("only the last of degrees, minutes and seconds may have decimals")
    total = float(degrees)
    if minutes is not None:
        if float(minutes) >= 60:
            raise ValueError("minutes must be below 60")
        total += float(minutes) / 60
    if seconds is not None:
        if float(seconds) >= 60:
            raise ValueError("seconds must be below 60")
        total += float(seconds) / 3600
    negative = sign == "-" or hemisphere in ("S", "W")
    return math.copysign(total, -1.0) if negative else total
