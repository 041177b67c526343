"""The nearby SQL alone from psycopg: the driver ceiling, and its cost without a pool."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import cycle, islice
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.rows import dict_row

from backend.places.service import NEARBY_SQL
from bench.stats import Latency, proc_cpu_seconds

# A SQLAlchemy `:name` bind parameter, not a `::type` cast.
_BIND = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def psycopg_sql(sqlalchemy_sql: str) -> str:
    """The same statement with psycopg's `%(name)s` placeholders."""
    return _BIND.sub(r"%(\1)s", sqlalchemy_sql.replace("%", "%%"))


def first_round_k(limit: int) -> int:
    """The KNN candidate count of find_nearby_places' first round: limit + 1, plus 8."""
    return limit + 1 + 8


# The endpoint's statement is written with psycopg placeholders already.
NEARBY_PSYCOPG_SQL = NEARBY_SQL.format(filters="")


def nearby_params(lat: float, lon: float, radius_m: float, limit: int) -> dict[str, Any]:
    """Parameters of NEARBY_PSYCOPG_SQL as the endpoint binds them with no filters."""
    return {"lat": lat, "lon": lon, "radius_m": radius_m, "k": first_round_k(limit)}


def is_local(url: str) -> bool:
    """Whether the server runs on this machine (so its processes can be looked at in /proc)."""
    return (urlsplit(url).hostname or "localhost") in ("127.0.0.1", "localhost", "::1")


@dataclass
class SqlRun:
    """Latencies of a query loop and the CPU it cost on each side."""

    latency: Latency
    client_cpu_s: float
    server_cpu_s: float | None


def prepared_loop(url: str, points: Sequence[tuple[float, float]], queries: int,
                  radius_m: float, limit: int, warmup: int = 200) -> SqlRun:
    """One connection, the prepared query `queries` times over the points, rows fetched."""
    timings = []
    with psycopg.connect(url, autocommit=True) as conn:
        server_pid = conn.info.backend_pid if is_local(url) else None
        params = [nearby_params(lat, lon, radius_m, limit) for lat, lon in points]
        for p in islice(cycle(params), warmup):
            conn.execute(NEARBY_PSYCOPG_SQL, p, prepare=True, binary=True).fetchall()
        server_before = proc_cpu_seconds(server_pid) if server_pid else None
        client_before = time.process_time()
        started = time.perf_counter()
        for p in islice(cycle(params), queries):
            t0 = time.perf_counter_ns()
            conn.execute(NEARBY_PSYCOPG_SQL, p, prepare=True, binary=True).fetchall()
            timings.append(time.perf_counter_ns() - t0)
        elapsed = time.perf_counter() - started
        client_cpu = time.process_time() - client_before
        server_cpu = None
        if server_pid and server_before is not None:
            after = proc_cpu_seconds(server_pid)
            server_cpu = None if after is None else after - server_before
    return SqlRun(Latency.from_ns(timings, elapsed), client_cpu, server_cpu)


def fresh_connection_loop(url: str, points: Sequence[tuple[float, float]], queries: int,
                          radius_m: float, limit: int) -> SqlRun:
    """A new connection for every query (connect, query, fetch, close): no pool."""
    timings = []
    params = [nearby_params(lat, lon, radius_m, limit) for lat, lon in points]
    client_before = time.process_time()
    started = time.perf_counter()
    for p in islice(cycle(params), queries):
        t0 = time.perf_counter_ns()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(NEARBY_PSYCOPG_SQL, p, binary=True).fetchall()
        timings.append(time.perf_counter_ns() - t0)
    elapsed = time.perf_counter() - started
    return SqlRun(Latency.from_ns(timings, elapsed), time.process_time() - client_before, None)


def sql_rows(conn: psycopg.Connection, lat: float, lon: float, radius_m: float,
             limit: int) -> list[dict[str, Any]]:
    """The rows the benchmarked statement returns for one point, as dicts."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(NEARBY_PSYCOPG_SQL, nearby_params(lat, lon, radius_m, limit))
        return cur.fetchall()


def explain(url: str, lat: float, lon: float, radius_m: float, limit: int) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the statement with the values inlined (second, warm run)."""
    with psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        statement = "EXPLAIN (ANALYZE, BUFFERS) " + NEARBY_PSYCOPG_SQL
        params = nearby_params(lat, lon, radius_m, limit)
        conn.execute(statement, params).fetchall()
        rows = conn.execute(statement, params).fetchall()
        query = conn.cursor().mogrify(NEARBY_PSYCOPG_SQL, params)
    plan = "\n".join(row[0] for row in rows)
    return f"{query.strip()}\n\n{plan}"


def buffers_per_query(url: str, points: Sequence[tuple[float, float]], radius_m: float,
                      limit: int) -> tuple[float, float]:
    """Mean shared buffers (hit, read) per execution, from EXPLAIN (ANALYZE, BUFFERS)."""
    hit = read = 0
    with psycopg.connect(url, autocommit=True) as conn:
        for lat, lon in points:
            row = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + NEARBY_PSYCOPG_SQL,
                               nearby_params(lat, lon, radius_m, limit)).fetchone()
            plan = row[0][0]["Plan"] if row else {}
            hit += plan.get("Shared Hit Blocks", 0)
            read += plan.get("Shared Read Blocks", 0)
    return hit / max(len(points), 1), read / max(len(points), 1)
