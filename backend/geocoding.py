"""Geocoding of addresses without coordinates (upload rows, merchants' stores) through geopy.

An app extension (`geocoder` in backend.extensions, initialised in create_app): uploads and
offers both get the app's one Geocoder through app_geocoder().

One Geocoder per process: geopy's RateLimiter (thread-safe) spaces the requests by the
configured minimum delay, as public Nominatim's usage policy asks (at most one per second), and
an in-process LRU cache keyed by the normalised query answers repeats without a request. The
cache lives as long as the process; it is not shared between gunicorn workers.
"""

from __future__ import annotations

import contextvars
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from geopy.exc import GeocoderServiceError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim, get_geocoder_for_service
from geopy.geocoders.base import Geocoder as GeopyGeocoder

from backend.errors import PROBLEM_BASE, AppError

DEFAULT_CACHE_SIZE = 10_000
_SPACES = re.compile(r"\s+")

Coordinates = tuple[float, float]

# While a cardholder's place search is under way, the HTTP libraries' debug lines (which carry
# the request URL, and so the typed text) are dropped: a search query is never logged.
_PRIVATE_QUERY = contextvars.ContextVar("nearbank_private_query", default=False)
_QUIET_LOGGERS = ("geopy", "urllib3.connectionpool", "urllib3.util.retry", "requests")


class _DropPrivateQueries(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _PRIVATE_QUERY.get()


_DROP = _DropPrivateQueries()
for _name in _QUIET_LOGGERS:
    logging.getLogger(_name).addFilter(_DROP)


@contextmanager
def _unlogged() -> Iterator[None]:
    token = _PRIVATE_QUERY.set(True)
    try:
        yield
    finally:
        _PRIVATE_QUERY.reset(token)


@dataclass(frozen=True)
class FoundPlace:
    """A place a typed name or postcode was understood as."""

    lat: float
    lon: float
    name: str


class GeocodingUnavailable(AppError):
    """The geocoding service cannot be reached or answered with an error."""

    status, type, title = 503, PROBLEM_BASE + "geocoding-unavailable", "Geocoding unavailable"
    headers = {"Retry-After": "30"}


class Geocoder:
    """Address to (lat, lon) through a geopy geocoder, rate-limited and cached."""

    def __init__(self, service: GeopyGeocoder, min_delay_seconds: float = 1.0, *,
                 max_retries: int = 0, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self.service = service
        # swallow_exceptions=False: a failure must surface as GeocodingUnavailable, not as
        # "nothing found" (which is what RateLimiter returns by default).
        self._limited = RateLimiter(
            service.geocode, min_delay_seconds=min_delay_seconds, max_retries=max_retries,
            error_wait_seconds=max(min_delay_seconds, 1.0), swallow_exceptions=False,
        )
        self._cache: OrderedDict[tuple[str, str | None], Coordinates | None] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def geocode(self, address: str, country: str | None = None) -> Coordinates | None:
        """(lat, lon) of an address, optionally within an ISO 3166-1 alpha-2 country.

        None when the service finds nothing (remembered like a result); an empty address is
        not sent.

        :raises GeocodingUnavailable: when the service cannot be reached or fails (503).
        """
        query = _SPACES.sub(" ", address).strip()
        if not query:
            return None
        country = (country or "").strip().upper() or None
        key = (query.casefold(), country)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        # The request is made outside the lock so a slow answer does not block cache hits.
        try:
            text, options = self._arguments(query, country)
            location = self._limited(text, **options)
        except GeocoderServiceError as error:
            raise GeocodingUnavailable(
                "The geocoding service cannot be reached or failed; try again later."
            ) from error
        found = None if location is None else (location.latitude, location.longitude)
        with self._lock:
            self._cache[key] = found
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return found

    def find_place(self, query: str, language: str | None = None) -> FoundPlace | None:
        """The place a cardholder's typed name or postcode means, or None when none is found.

        Unlike geocode(), nothing is cached: the text a cardholder typed is personal (it can
        be their home), so it is kept only for the one request and never logged.

        :raises GeocodingUnavailable: when the service cannot be reached or fails (503).
        """
        text = _SPACES.sub(" ", query).strip()
        if not text:
            return None
        options = {"language": language} if language and isinstance(
            self.service, Nominatim) else {}
        try:
            with _unlogged():
                location = self._limited(text, **options)
        except GeocoderServiceError as error:
            raise GeocodingUnavailable(
                "The geocoding service cannot be reached or failed; try again later."
            ) from error
        if location is None:
            return None
        return FoundPlace(location.latitude, location.longitude, location.address or "")

    def _arguments(self, query: str, country: str | None) -> tuple[str, dict]:
        """The geocode() call for the service: Nominatim filters by country, others read it."""
        if country is None:
            return query, {}
        if isinstance(self.service, Nominatim):
            return query, {"country_codes": [country.lower()]}
        return f"{query}, {country}", {}


def geocoder_from_config(config: Mapping) -> Geocoder:
    """A Geocoder from app settings (GEOCODER_* keys; GEOCODER_SERVICE defaults to nominatim)."""
    service_class = get_geocoder_for_service(config.get("GEOCODER_SERVICE", "nominatim"))
    service = service_class(
        domain=config["GEOCODER_DOMAIN"], scheme=config["GEOCODER_SCHEME"],
        user_agent=config["GEOCODER_USER_AGENT"], timeout=config["GEOCODER_TIMEOUT_SECONDS"],
    )
    return Geocoder(
        service, float(config["GEOCODER_MIN_DELAY_SECONDS"]),
        max_retries=int(config.get("GEOCODER_MAX_RETRIES", 0)),
        cache_size=int(config.get("GEOCODER_CACHE_SIZE", DEFAULT_CACHE_SIZE)),
    )


EXTENSION_KEY = "nearbank.geocoder"


class GeocoderExtension:
    """The app's Geocoder, built from its GEOCODER_* settings on first use."""

    def init_app(self, app) -> None:
        """Register the extension; the Geocoder itself is made when first needed."""
        app.extensions.setdefault(EXTENSION_KEY, None)

    def get(self) -> Geocoder:
        """The current app's Geocoder (made from its config when there is none yet)."""
        from flask import current_app

        geocoder = current_app.extensions.get(EXTENSION_KEY)
        if geocoder is None:
            geocoder = current_app.extensions[EXTENSION_KEY] = \
                geocoder_from_config(current_app.config)
        return geocoder


geocoder_extension = GeocoderExtension()


def app_geocoder() -> Geocoder:
    """The app's geocoder: one per process, so its cache and rate limit are shared."""
    return geocoder_extension.get()
