"""Typed positions in common notations, precision rounding, and never guessing."""

from __future__ import annotations

import pytest

from mobile.core.location import (
    DeviceLocationProvider,
    Fix,
    FixedLocationProvider,
    LocationParseError,
    LocationUnavailable,
    parse_location,
    round_for_precision,
)


@pytest.mark.parametrize("text, expected", [
    ("51.5133, -0.0890", (51.5133, -0.089)),
    ("51.5133 -0.0890", (51.5133, -0.089)),
    ("51.5133;-0.0890", (51.5133, -0.089)),
    ("  1.2840,103.8514 ", (1.284, 103.8514)),
    ("51°30′48″N 0°5′20″W", (51.513333, -0.088889)),
    ("51 30m 48s N 0 5m 20s W", (51.513333, -0.088889)),
    ("N 51.5133 W 0.089", (51.5133, -0.089)),
    ("22.2819 N, 114.1582 E", (22.2819, 114.1582)),
    ("geo:51.5133,-0.0890?z=17", (51.5133, -0.089)),
])
def test_common_notations_parse(text, expected):
    lat, lon = parse_location(text)
    assert lat == pytest.approx(expected[0], abs=1e-6)
    assert lon == pytest.approx(expected[1], abs=1e-6)


@pytest.mark.parametrize("text", ["", "Bank station", "95, 10", "10, 200", "51.5", "north"])
def test_anything_else_is_refused_rather_than_guessed(text):
    with pytest.raises(LocationParseError):
        parse_location(text)


@pytest.mark.parametrize("precision, expected", [
    ("exact", (51.513347, -0.089012)),
    ("100m", (51.513, -0.089)),
    ("1km", (51.51, -0.09)),
])
def test_precision_rounds_before_anything_leaves_the_device(precision, expected):
    assert round_for_precision(51.5133471, -0.0890123, precision) == expected


def test_rounding_gives_no_negative_zero():
    assert round_for_precision(0.001, -0.001, "1km") == (0.0, 0.0)
    assert str(round_for_precision(0.001, -0.001, "1km")[1]) == "0.0"


def test_unknown_precision_is_an_error():
    with pytest.raises(ValueError):
        round_for_precision(1, 2, "street")


def test_fixed_provider_reports_the_set_place_or_not_set():
    results = []
    FixedLocationProvider(lambda: Fix(1.0, 2.0, "settings")).locate(results.append)
    FixedLocationProvider(lambda: None).locate(results.append)
    assert results[0] == Fix(1.0, 2.0, "settings")
    assert isinstance(results[1], LocationUnavailable) and results[1].reason == "not_set"


def test_device_provider_prefers_the_set_place_and_falls_back_to_the_gps():
    class Gps:
        def locate(self, done):
            done(LocationUnavailable("denied"))

    place: list[Fix | None] = [None]
    provider = DeviceLocationProvider(lambda: place[0], Gps())
    results = []
    provider.locate(results.append)
    place[0] = Fix(3.0, 4.0, "settings")
    provider.locate(results.append)
    assert results[0].reason == "denied" and results[1] == Fix(3.0, 4.0, "settings")
