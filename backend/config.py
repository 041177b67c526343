"""Configuration from the environment."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver whatever PostgreSQL URL form we are given."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def limits_storage_uri(redis_url: str | None) -> str:
    """flask-limiter's storage for a REDIS_URL (redis-py's forms); memory without one."""
    if not redis_url:
        return "memory://"
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://"):]
    return redis_url


DEFAULT_MAX_JSON_BYTES = 1024 * 1024
# About 700,000 rows of our CSV format (378 bytes a row); bigger files go in as several uploads
# or through `flask uploads submit`.
DEFAULT_MAX_UPLOAD_BYTES = 256 * 1024 * 1024


def body_limits() -> tuple[int, int]:
    """The largest JSON body and upload request, in bytes (MAX_JSON_BYTES, MAX_UPLOAD_BYTES)."""
    return (int(os.environ.get("MAX_JSON_BYTES", DEFAULT_MAX_JSON_BYTES)),
            int(os.environ.get("MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)))


def _minutes(name: str, default: int) -> timedelta:
    return timedelta(minutes=int(os.environ.get(name, default)))


class Config:
    """Production-style settings; every value can be set through the environment."""

    def __init__(self) -> None:
        url = os.environ.get("DATABASE_URL")
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(url) if url else None
        self.DB_POOL_SIZE = int(os.environ.get("DB_POOL_SIZE", 8))
        # Migrations (`flask db upgrade`) run as the role that owns the tables, when it differs
        # from the app's role; the private cluster of `make run` sets both.
        owner = os.environ.get("DATABASE_OWNER_URL")
        self.DATABASE_OWNER_URL = normalise_database_url(owner) if owner else None
        # Rate-limit counts live in Redis so that a limit holds across workers, restarts and
        # hosts. Without REDIS_URL they stay in each process (one process only: tests, a shell).
        self.REDIS_URL = os.environ.get("REDIS_URL")
        self.RATELIMIT_STORAGE_URI = limits_storage_uri(self.REDIS_URL)
        self.RATELIMIT_STORAGE_OPTIONS = (
            {"socket_timeout": 2, "socket_connect_timeout": 2}
            if self.RATELIMIT_STORAGE_URI != "memory://" else {})
        self.RATELIMIT_HEADERS_ENABLED = True
        self.RATELIMIT_KEY_PREFIX = "nearbank"
        # Proxies in front of the app whose X-Forwarded-For/-Proto are trusted (ProxyFix). 0
        # when clients reach gunicorn directly; `make run` sets 1 for its nginx, the only way
        # in (gunicorn listens on a Unix socket).
        self.PROXY_HOPS = int(os.environ.get("PROXY_HOPS", 0))
        # A database that cannot be reached is a 503 within about this long, not a hang.
        self.DB_CONNECT_TIMEOUT = int(os.environ.get("DB_CONNECT_TIMEOUT", 1))
        self.DB_POOL_TIMEOUT = float(os.environ.get("DB_POOL_TIMEOUT", 2))
        self.DB_RETRY_AFTER_SECONDS = int(os.environ.get("DB_RETRY_AFTER_SECONDS", 5))
        # Request limits (backend/guards.py): larger bodies are a 413 before they are read.
        # The front proxy reads the same two settings (backend/frontproxy.py): one limit each.
        self.MAX_JSON_BYTES, self.MAX_UPLOAD_BYTES = body_limits()
        self.MAX_QUERY_BYTES = int(os.environ.get("MAX_QUERY_BYTES", 2048))
        self.MAX_JSON_DEPTH = int(os.environ.get("MAX_JSON_DEPTH", 32))
        # Without a configured secret each process would invent its own, and tokens issued by
        # one gunicorn worker would be refused by the next; `make run` sets one in var/.
        self.JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY") or secrets.token_urlsafe(32)
        self.JWT_ACCESS_TOKEN_EXPIRES = _minutes("JWT_ACCESS_MINUTES", 15)
        self.JWT_REFRESH_TOKEN_EXPIRES = _minutes("JWT_REFRESH_MINUTES", 60 * 24 * 30)
        self.JWT_TOKEN_LOCATION = ["headers"]
        self.JWT_ERROR_MESSAGE_KEY = "detail"
        # Login and merchant sign-up, per client address: each attempt costs an argon2 hash.
        self.AUTH_RATE_LIMIT = os.environ.get("AUTH_RATE_LIMIT", "10 per minute;100 per hour")
        # Place search (a typed place name or postcode), per client address: each one costs a
        # request to the geocoding service, whose usage policy allows about one per second.
        self.GEOCODE_RATE_LIMIT = os.environ.get("GEOCODE_RATE_LIMIT",
                                                 "20 per minute;200 per hour")
        # Geocoding of addresses without coordinates (uploads, merchants' stores) via geopy.
        self.GEOCODER_DOMAIN = os.environ.get("GEOCODER_DOMAIN", "nominatim.openstreetmap.org")
        self.GEOCODER_SCHEME = os.environ.get("GEOCODER_SCHEME", "https")
        self.GEOCODER_USER_AGENT = os.environ.get("GEOCODER_USER_AGENT", "nearbank-geocoder")
        self.GEOCODER_MIN_DELAY_SECONDS = float(os.environ.get("GEOCODER_MIN_DELAY_SECONDS", 1.0))
        self.GEOCODER_TIMEOUT_SECONDS = float(os.environ.get("GEOCODER_TIMEOUT_SECONDS", 10))
        # Branch queues (docs/queues.md): a line's live state expires this long after its
        # report's as_of; soonest_served converts distance to walking time at this pace.
        self.QUEUE_LIVE_TTL_SECONDS = int(os.environ.get("QUEUE_LIVE_TTL_SECONDS", 300))
        # Branch values read from Redis kept in each process, exact through Redis's invalidation
        # messages (backend/queues/store.py BranchCache); "0" reads Redis on every request.
        self.QUEUE_STATE_CACHE = os.environ.get("QUEUE_STATE_CACHE", "1") != "0"
        self.QUEUE_WALKING_PACE_M_S = float(os.environ.get("QUEUE_WALKING_PACE_M_S", 1.3))
        self.QUEUE_TICKET_CHECK_IN_MINUTES = int(os.environ.get("QUEUE_TICKET_CHECK_IN_MINUTES",
                                                                45))
        self.QUEUE_TICKETS_PER_HOUR = int(os.environ.get("QUEUE_TICKETS_PER_HOUR", 5))
        self.API_TITLE = "Nearbank API"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.1.0"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"
        # The docs page (/api/v1/docs) is backend/docs_page.py: Swagger UI from local files
        # (`make docs-assets` puts them in vendor/swagger-ui, or set DOCS_ASSETS_DIR).
        self.DOCS_ASSETS_DIR = os.environ.get("DOCS_ASSETS_DIR")
        self.API_SPEC_OPTIONS = {
            "info": {"description": "Nearest branches, ATMs and card repayment points."},
            "components": {
                "securitySchemes": {
                    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
                }
            },
        }
        self.JSON_SORT_KEYS = False


class TestConfig(Config):
    """Settings for the test suite: a fixed secret and short, predictable lifetimes."""

    def __init__(self, database_url: str | None = None, redis_url: str | None = None) -> None:
        super().__init__()
        if database_url:
            self.SQLALCHEMY_DATABASE_URI = normalise_database_url(database_url)
        if redis_url:
            # Live queue state only: rate-limit counts stay as the environment says.
            self.REDIS_URL = redis_url
        self.TESTING = True
        self.JWT_SECRET_KEY = "test-secret-key-that-is-long-enough-for-hs256"
        self.AUTH_RATE_LIMIT = "10000 per minute"
        self.GEOCODE_RATE_LIMIT = "10000 per minute"
