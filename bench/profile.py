"""Where a nearby request's time goes inside the app: in-process requests, then cProfile."""

from __future__ import annotations

import cProfile
import pstats
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import cycle, islice

from backend import create_app
from backend.config import Config, normalise_database_url

# Self time is charged to the first component whose path fragment is in the function's file;
# C functions (file "~") are charged to their callers in proportion.
COMPONENTS = (
    ("psycopg: PostgreSQL round trip, row decoding", ("/psycopg/", "/psycopg_binary/")),
    ("SQLAlchemy: execute, result rows, pool, session", ("/sqlalchemy/",)),
    ("opening hours status (backend.hours, zoneinfo)", ("/backend/hours.py", "zoneinfo")),
    ("GeoJSON features, bearing (backend.places, geographiclib)",
     ("/backend/places/", "/backend/geo.py", "/geographiclib/")),
    ("query args and response schema (marshmallow, flask-smorest, webargs)",
     ("/marshmallow/", "/flask_smorest/", "/webargs/", "/apispec/")),
    ("JSON encoding", ("/json/",)),
    ("Flask, Werkzeug, JWT extension (request handling)",
     ("/flask/", "/werkzeug/", "/flask_jwt_extended/", "/backend/")),
)
OTHER = "other"


@dataclass(frozen=True)
class Profile:
    """Per-request wall time in-process, and shares of a nearby request's self time."""

    requests: int
    nearby_ms: float
    trivial_ms: float
    shares: list[tuple[str, float]]


def _component(filename: str) -> str | None:
    if filename == "~":
        return None
    for label, fragments in COMPONENTS:
        if any(fragment in filename for fragment in fragments):
            return label
    return OTHER


def _shares(stats: pstats.Stats) -> list[tuple[str, float]]:
    raw = stats.stats  # type: ignore[attr-defined]
    totals: dict[str, float] = {}
    for (filename, _, _), (_, _, self_time, _, callers) in raw.items():
        label = _component(filename)
        if label is not None:
            totals[label] = totals.get(label, 0.0) + self_time
            continue
        spent = {key: value[2] for key, value in callers.items()}  # caller -> tt in callee
        weight = sum(spent.values())
        for key, part in spent.items():
            owner = _component(key[0]) or OTHER
            share = self_time * (part / weight if weight else 1.0 / len(spent))
            totals[owner] = totals.get(owner, 0.0) + share
        if not callers:
            totals[OTHER] = totals.get(OTHER, 0.0) + self_time
    grand = sum(totals.values()) or 1.0
    order = [label for label, _ in COMPONENTS] + [OTHER]
    return [(label, totals.get(label, 0.0) / grand) for label in order if label in totals]


def profile_app(database_url: str, paths: Sequence[str], requests: int = 300) -> Profile:
    """Time `requests` nearby and /healthz requests in-process, then profile the nearby ones."""
    config = Config()
    config.SQLALCHEMY_DATABASE_URI = normalise_database_url(database_url)
    config.DB_POOL_SIZE = 1
    app = create_app(config)
    client = app.test_client()
    for path in islice(cycle(paths), 50):  # warm-up: connection, prepared statements, caches
        status = client.get(path).status_code
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
    started = time.perf_counter()
    for path in islice(cycle(paths), requests):
        client.get(path)
    nearby = (time.perf_counter() - started) / requests
    started = time.perf_counter()
    for _ in range(requests):
        client.get("/healthz")
    trivial = (time.perf_counter() - started) / requests
    profiler = cProfile.Profile()
    profiler.enable()
    for path in islice(cycle(paths), requests):
        client.get(path)
    profiler.disable()
    from backend.extensions import db

    if db.engine is not None:
        db.engine.dispose()
    return Profile(requests, nearby * 1e3, trivial * 1e3, _shares(pstats.Stats(profiler)))
