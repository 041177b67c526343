"""Geocoding through geopy against a local server that speaks Nominatim's /search protocol."""

from __future__ import annotations

import socket
import time

import pytest
from geopy.geocoders import Nominatim

from backend.config import Config
from backend.geocoding import Geocoder, GeocodingUnavailable, geocoder_from_config
from tests.backend.fake_nominatim import settings


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_found_sends_a_nominatim_search(nominatim):
    geocoder = geocoder_from_config(settings(nominatim.domain))
    assert geocoder.geocode("10 Dean Street,  London", "gb") == (51.5136, -0.134)
    [request] = nominatim.requests
    assert request.path == "/search"
    assert request.query == {"q": ["10 Dean Street, London"], "format": ["json"],
                             "limit": ["1"], "countrycodes": ["gb"]}
    assert request.user_agent == "nearbank-test"


def test_not_found_is_none(nominatim):
    geocoder = geocoder_from_config(settings(nominatim.domain))
    assert geocoder.geocode("1 Nowhere Lane") is None
    [request] = nominatim.requests
    assert "countrycodes" not in request.query


def test_repeated_queries_are_answered_from_the_cache(nominatim):
    geocoder = geocoder_from_config(settings(nominatim.domain))
    assert geocoder.geocode("10 Dean Street, London", "GB") == (51.5136, -0.134)
    assert geocoder.geocode("  10 DEAN street,\tLondon ", "gb") == (51.5136, -0.134)
    assert geocoder.geocode("1 Nowhere Lane") is None
    assert geocoder.geocode("1 nowhere lane") is None  # "not found" is remembered too
    assert len(nominatim.requests) == 2
    geocoder.geocode("10 Dean Street, London", "IE")  # another country is another query
    assert len(nominatim.requests) == 3


def test_the_cache_keeps_the_most_recent_queries(nominatim):
    geocoder = Geocoder(
        geocoder_from_config(settings(nominatim.domain)).service, 0.0, cache_size=2)
    for address in ("1 A Street", "2 B Street", "1 A Street", "3 C Street", "1 A Street",
                    "2 B Street"):
        geocoder.geocode(address)
    assert [r.query["q"][0] for r in nominatim.requests] == [
        "1 A Street", "2 B Street", "3 C Street", "2 B Street"]


def test_requests_are_spaced_by_the_minimum_delay(nominatim):
    delay = 0.5
    geocoder = geocoder_from_config(settings(nominatim.domain, delay))
    started = time.monotonic()
    geocoder.geocode("1 A Street")
    geocoder.geocode("2 B Street")
    assert time.monotonic() - started >= delay
    first, second = nominatim.requests
    # Measured where the requests arrive: the client spaces the moments it sends, so the
    # arrivals may differ by the two requests' latencies (a first connection is slower).
    assert second.at - first.at >= delay - 0.1
    before_hit = time.monotonic()
    geocoder.geocode("2 B Street")  # a cache hit is not a request and does not wait
    assert len(nominatim.requests) == 2
    assert time.monotonic() - before_hit < delay


def test_empty_address_is_not_sent(nominatim):
    geocoder = geocoder_from_config(settings(nominatim.domain))
    assert geocoder.geocode("   ") is None
    assert nominatim.requests == []


def test_server_down_is_unavailable():
    geocoder = geocoder_from_config(settings(f"127.0.0.1:{free_port()}"))
    with pytest.raises(GeocodingUnavailable) as error:
        geocoder.geocode("10 Dean Street, London")
    assert error.value.status == 503
    assert "Dean Street" not in str(error.value)


def test_server_error_is_unavailable_and_not_cached(nominatim):
    geocoder = geocoder_from_config(settings(nominatim.domain))
    for _ in range(2):
        with pytest.raises(GeocodingUnavailable):
            geocoder.geocode("Boom Street")
    assert len(nominatim.requests) == 2


def test_other_services_get_the_country_in_the_query():
    seen: list[tuple[str, dict[str, object]]] = []

    class Service:
        def geocode(self, query: str, **options: object) -> None:
            seen.append((query, options))

    assert Geocoder(Service(), 0.0).geocode("Orchard Road 1", "sg") is None  # type: ignore[arg-type]
    assert seen == [("Orchard Road 1, SG", {})]


def test_the_app_settings_build_a_nominatim_geocoder():
    geocoder = geocoder_from_config(vars(Config()))
    assert isinstance(geocoder.service, Nominatim)
    assert geocoder.service.domain == "nominatim.openstreetmap.org"
    assert geocoder.service.scheme == "https"
    assert geocoder.service.timeout == 10
    assert geocoder.service.headers["User-Agent"] == "nearbank-geocoder"
