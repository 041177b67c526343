"""`make bench`: the nearby query measured four ways at several numbers of places.

For each size: empty `places`, generate and COPY the places, VACUUM ANALYZE, then
  1. the endpoint's SQL alone from a psycopg loop (prepared; and with a new connection per query),
  2. `GET /api/v1/places/nearby` through gunicorn on loopback under wrk,
  3. `GET /healthz` on the same gunicorn (the framework ceiling),
  4. a brute-force scan in Python over the same points (the naive reference),
and the HTTP and SQL results are checked against the brute force. The tables go to stdout and
to docs/benchmarks.md. Without DATABASE_URL a private PostGIS cluster lives in var/bench/pgdata;
with it, the database `nearbank_bench` on that server is used (created when missing).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from types import FrameType

import psycopg
from sqlalchemy.engine import make_url

from backend.config import normalise_database_url
from backend.migrate import upgrade
from backend.pgcluster import ensure_cluster, stop_cluster
from bench import report
from bench.generate import DEFAULT_SEED, copy_places, libpq_url, query_points
from bench.httpbench import Gunicorn, get_json, measure, worker_peak_memory_kib, wrk_binary
from bench.profile import profile_app
from bench.reference import (
    CUT_SLACK,
    HTTP_DISTANCE_TOLERANCE_M,
    SQL_DISTANCE_TOLERANCE_M,
    BruteForce,
    Hit,
    compare_page,
)
from bench.report import (
    BARE_HEALTHZ,
    NEARBANK_HEALTHZ,
    NEARBANK_NEARBY,
    REFERENCE_NEARBY,
    REFERENCE_PG_NEARBY,
)
from bench.sqlbench import (
    buffers_per_query,
    explain,
    first_round_k,
    fresh_connection_loop,
    is_local,
    prepared_loop,
    sql_rows,
)
from bench.stats import Latency

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
DOCS = ROOT / "docs" / "benchmarks.md"
BENCH_DB = "nearbank_bench"
NOTES_START, NOTES_END = "<!-- notes:start -->", "<!-- notes:end -->"
DEFAULT_NOTES = f"""{NOTES_START}
## Notes

Observations written by hand go here; the benchmark keeps this section when it rewrites the file.
{NOTES_END}"""
LOAD_POINTS = 1000
# A run where one gunicorn worker took every connection is measured again, up to this often.
BALANCE_RETRIES = 2


def log(message: str) -> None:
    """A progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="comma-separated numbers of places (default %(default)s)")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds of each measured HTTP run (default %(default)s)")
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="seconds of unmeasured load before each HTTP run "
                             "(default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the HTTP runs, Nearbank and the reference alternating; "
                             "the median round counts (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="wrk keep-alive connections (default %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY (default 2)")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", 4)),
                        help="WEB_THREADS (default $WEB_THREADS or 4)")
    parser.add_argument("--queries", type=int, default=5000,
                        help="queries of the prepared psycopg loop (default %(default)s)")
    parser.add_argument("--fresh-queries", type=int, default=500,
                        help="queries with a new connection each (default %(default)s)")
    parser.add_argument("--check-points", type=int, default=50,
                        help="query points compared with the brute force (default %(default)s)")
    parser.add_argument("--radius", type=float, default=5000.0, help="metres (default 5000)")
    parser.add_argument("--limit", type=int, default=20, help="results per query (default 20)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--write-docs", action=argparse.BooleanOptionalAction, default=True,
                        help=f"write {DOCS.relative_to(ROOT)} (default: yes)")
    parser.add_argument("--via-front", action=argparse.BooleanOptionalAction, default=False,
                        help="send the HTTP runs through the nginx front as `make run` serves "
                             "them (default: straight to gunicorn)")
    parser.add_argument("--keep-cluster", action="store_true",
                        help="leave the private cluster running at the end")
    parser.add_argument("--uploads", action=argparse.BooleanOptionalAction, default=True,
                        help="then the upload benchmark, python -m bench.uploads (default: yes)")
    parser.add_argument("--upload-sizes", help="its rows per file (default 100000,1000000)")
    args = parser.parse_args(argv)
    try:
        args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes takes comma-separated integers")
    if not args.size_list or min(args.size_list) < 1:
        parser.error("--sizes needs at least one positive size")
    return args


def bench_database() -> tuple[str, Path | None]:
    """(SQLAlchemy URL of the bench database, private cluster dir or None)."""
    given = os.environ.get("DATABASE_URL")
    if not given:
        cluster = ensure_cluster(VAR / "pgdata")
        log(f"private PostGIS cluster on 127.0.0.1:{cluster.port} ({VAR / 'pgdata'})")
        return cluster.admin_url, VAR / "pgdata"
    server = make_url(normalise_database_url(given))
    url = server.set(database=BENCH_DB).render_as_string(hide_password=False)
    with psycopg.connect(libpq_url(server.render_as_string(hide_password=False)),
                         autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (BENCH_DB,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
            log(f"created database {BENCH_DB}")
    log(f"database {BENCH_DB} on {server.host}:{server.port or 5432} (from DATABASE_URL)")
    return url, None


def nearby_path(lat: float, lon: float, radius_m: float, limit: int) -> str:
    """The endpoint's URL path for a point."""
    return f"/api/v1/places/nearby?lat={lat!r}&lon={lon!r}&radius_m={radius_m:g}&limit={limit}"


def load_places(conn: psycopg.Connection, size: int, seed: int) -> float:
    """Empty `places`, COPY `size` generated places, CLUSTER, VACUUM ANALYZE; seconds taken."""
    started = time.perf_counter()
    with conn.transaction():
        # The bench database is ours alone: CASCADE empties whatever refers to places too.
        conn.execute("TRUNCATE places RESTART IDENTITY CASCADE")
        copy_places(conn, size, seed)
    # As an operator does after a bulk load (`flask places reorder`): the table in the order
    # of its GiST index, so that neighbours share pages.
    log("CLUSTER places USING ix_places_location (flask places reorder), VACUUM ANALYZE")
    conn.execute("CLUSTER places USING ix_places_location")
    conn.execute("VACUUM (ANALYZE) places")
    return time.perf_counter() - started


def relation_mib(conn: psycopg.Connection, name: str) -> float:
    """On-disk size of a table (with TOAST) or an index, MiB."""
    row = conn.execute("SELECT pg_table_size(%s::regclass)", (name,)).fetchone()
    return (row[0] if row else 0) / 2**20


@dataclass
class Expected:
    """The reference's answer for one query point."""

    lat: float
    lon: float
    hits: list[Hit]


def reference_answers(brute: BruteForce, points: list[tuple[float, float]], radius_m: float,
                      limit: int) -> tuple[list[Expected], Latency]:
    """The brute force's results for the check points, and its latency."""
    answers, timings = [], []
    for lat, lon in points:
        t0 = time.perf_counter_ns()
        hits = brute.nearest(lat, lon, radius_m, limit + CUT_SLACK)
        timings.append(time.perf_counter_ns() - t0)
        answers.append(Expected(lat, lon, hits))
    return answers, Latency.from_ns(timings, sum(timings) / 1e9)


def check_sql(conn: psycopg.Connection, brute: BruteForce, expected: Expected,
              radius_m: float, limit: int) -> str | None:
    """The benchmarked statement's rows: right count, within the radius, exact distances."""
    rows = sql_rows(conn, expected.lat, expected.lon, radius_m, limit)
    k = first_round_k(limit)
    if len(rows) < k:
        within = brute.count_within(expected.lat, expected.lon, radius_m)
        if len(rows) != within:
            return f"SQL gave {len(rows)} rows, {within} places are within the radius"
    for row in rows:
        exact = brute.distance_to(expected.lat, expected.lon, row["id"])
        if exact is None:
            return f"SQL returned place {row['id']}, which is not searchable"
        if exact > radius_m or abs(row["distance_m"] - exact) > SQL_DISTANCE_TOLERANCE_M:
            return f"SQL distance {row['distance_m']} m to {row['id']}, exact {exact:.4f} m"
    return None


def check_http(port: int, expected: Expected, radius_m: float, limit: int) -> report.Checks:
    """One point through the running server, compared with the reference."""
    outcome = report.Checks(points=1)
    status, body = get_json(port, nearby_path(expected.lat, expected.lon, radius_m, limit))
    if status != 200:
        outcome.problems.append(f"HTTP {status} at ({expected.lat}, {expected.lon})")
        return outcome
    got = [(f["id"], f["properties"]["distance_m"]) for f in body["features"]]
    outcome.results = len(got)
    verdict = compare_page(expected.hits, got, limit, HTTP_DISTANCE_TOLERANCE_M)
    if verdict.ok:
        outcome.http_equal, outcome.http_near_ties = 1, verdict.near_ties
    else:
        outcome.problems.append(f"({expected.lat}, {expected.lon}): {verdict.problem}")
    return outcome


def _merge(total: report.Checks, part: report.Checks) -> None:
    total.http_equal += part.http_equal
    total.http_near_ties += part.http_near_ties
    total.results += part.results
    total.problems.extend(part.problems)


def _nearbank_backends(conn: psycopg.Connection) -> list[int]:
    rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND application_name = 'nearbank'").fetchall()
    return [row[0] for row in rows]


def _backends_of(conn: psycopg.Connection, application: str) -> list[int]:
    rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND application_name = %s", (application,)).fetchall()
    return [row[0] for row in rows]


def _sessions(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT sessions FROM pg_stat_database "
                       "WHERE datname = current_database()").fetchone()
    return int(row[0]) if row else 0


def _sessions_opened_since(conn: psycopg.Connection, before: int) -> int:
    """Sessions opened since `before`, once the app's connections have all closed."""
    deadline = time.monotonic() + 10.0
    while _nearbank_backends(conn) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.2)  # a backend's counters reach the shared statistics as it exits
    return _sessions(conn) - before


def bench_size(args: argparse.Namespace, url: str, conn: psycopg.Connection, size: int,
               points: list[tuple[float, float]], headline: bool) -> report.SizeResult:
    """Generate `size` places and measure everything on them."""
    psycopg_url = libpq_url(url)
    log(f"{size:,} places: generating")
    generate_s = load_places(conn, size, args.seed)
    table_mib, index_mib = relation_mib(conn, "places"), relation_mib(conn, "ix_places_location")
    log(f"{size:,} places loaded in {generate_s:.1f}s (table {table_mib:,.0f} MiB, "
        f"GiST {index_mib:,.0f} MiB); reading them into the brute-force arrays")
    brute = BruteForce.from_connection(conn)
    check_points = points[:args.check_points]

    log(f"psycopg loop: {args.queries:,} prepared queries")
    sql = prepared_loop(psycopg_url, points, args.queries, args.radius, args.limit)
    log(f"  p50 {sql.latency.p50_ms:.3f} ms, p99 {sql.latency.p99_ms:.3f} ms, "
        f"{sql.latency.per_second:,.0f} qps")
    log(f"new connection per query: {args.fresh_queries:,} queries")
    fresh = fresh_connection_loop(psycopg_url, points, args.fresh_queries, args.radius,
                                  args.limit)
    log(f"  p50 {fresh.latency.p50_ms:.3f} ms ({fresh.latency.p50_ms / sql.latency.p50_ms:.1f}x)")

    log(f"brute force over {len(brute):,} points for {len(check_points)} query points")
    answers, brute_latency = reference_answers(brute, check_points, args.radius, args.limit)
    log(f"  p50 {brute_latency.p50_ms:.2f} ms")
    checks = report.Checks()
    for expected in answers:
        problem = check_sql(conn, brute, expected, args.radius, args.limit)
        if problem:
            checks.problems.append(problem)
        else:
            checks.sql_equal += 1

    server_pids: Callable[[], list[int]] | None = None
    if is_local(url):
        server_pids = partial(_nearbank_backends, conn)
    nearby_paths = [nearby_path(lat, lon, args.radius, args.limit) for lat, lon in points]
    log(f"gunicorn: {args.workers} workers x {args.threads} threads, Nearbank and the "
        "reference (bench/minimal.py)")
    sessions_before = _sessions(conn)
    reference_pids: Callable[[], list[int]] | None = None
    if is_local(url):
        reference_pids = partial(_backends_of, conn, "nearbank-reference")
    ref_paths = [p.replace("/api/v1/places/nearby", "/nearby") for p in nearby_paths]
    ref_pg_paths = [p.replace("/api/v1/places/nearby", "/nearby-pg") for p in nearby_paths]
    with Gunicorn(url, args.workers, args.threads, VAR / "gunicorn.log",
                  via_front=args.via_front) as server, \
            Gunicorn(url, args.workers, args.threads, VAR / "gunicorn-reference.log",
                     via_front=args.via_front, app="bench.minimal:app") as reference:
        for expected in answers:
            _merge(checks, check_http(server.port, expected, args.radius, args.limit))
        checks.points = len(answers)
        log(f"  results: HTTP {checks.http_equal}/{checks.points} equal to the brute force, "
            f"SQL {checks.sql_equal}/{checks.points}"
            + (f"; problems: {checks.problems[:3]}" if checks.problems else ""))
        plan = [(NEARBANK_NEARBY, server, nearby_paths, server_pids),
                (REFERENCE_NEARBY, reference, ref_paths, reference_pids),
                (REFERENCE_PG_NEARBY, reference, ref_pg_paths, reference_pids),
                (NEARBANK_HEALTHZ, server, ["/healthz"], server_pids),
                (BARE_HEALTHZ, reference, ["/healthz"], reference_pids)]
        rounds: dict[str, list] = {label: [] for label, *_ in plan}
        for number in range(args.rounds):
            # Alternate the order so that no side always runs first (or last) in a round.
            for label, target, paths, pids in plan if number % 2 == 0 else plan[::-1]:
                for attempt in range(1 + BALANCE_RETRIES):
                    measure(target, paths, VAR, args.warmup, args.concurrency, None)
                    time.sleep(1.0)  # let the warm-up's last requests finish: workers idle
                    run = measure(target, paths, VAR, args.duration, args.concurrency, pids)
                    if report.balanced(run) or attempt == BALANCE_RETRIES:
                        break
                    # One worker took every connection (see the notes): not comparable.
                    log(f"  round {number + 1} {label}: {run.latency.per_second:,.0f} rps "
                        f"with the workers' CPU split {report.split(run)}: measured again")
                rounds[label].append(run)
                other = report.other_cpu_share(run, os.cpu_count() or 1)
                log(f"  round {number + 1} {label}: {run.latency.per_second:,.0f} rps, "
                    f"p50 {run.latency.p50_ms:.2f} ms, {run.errors} errors; workers' CPU split "
                    f"{report.split(run)}; other processes {other:.0%}")
        runs = {"nearby": report.median_run(rounds[NEARBANK_NEARBY]),
                "trivial": report.median_run(rounds[NEARBANK_HEALTHZ])}
        held = len(_nearbank_backends(conn))
        # The reference's connections (one per thread it ran, kept) count in the database's
        # sessions too: they are taken out of what gunicorn-for-Nearbank opened.
        reference_sessions = len(_backends_of(conn, "nearbank-reference"))
        peaks = worker_peak_memory_kib(server)
    opened = _sessions_opened_since(conn, sessions_before) - reference_sessions
    log(f"  DB connections: {held} held by the workers under load, {opened} opened by gunicorn "
        f"in all; worker VmHWM: {', '.join(f'{kib / 1024:.0f} MiB' for kib in peaks)}")

    result = report.SizeResult(
        size, len(brute), generate_s, table_mib, index_mib, sql, fresh, brute_latency,
        brute.nbytes / 2**20, runs["trivial"], runs["nearby"], peaks, held, opened, checks,
        rounds=rounds)
    if headline:
        full = next((a for a in answers if len(a.hits) > args.limit), answers[0])
        log(f"EXPLAIN (ANALYZE, BUFFERS) at ({full.lat}, {full.lon})")
        result.explain = explain(psycopg_url, full.lat, full.lon, args.radius, args.limit)
        result.buffers = buffers_per_query(psycopg_url, check_points, args.radius, args.limit)
        log("profiling the app in-process")
        try:
            result.profile = profile_app(url, nearby_paths[:200])
        except Exception as exc:  # a diagnostic only: the measurements stand without it
            log(f"  warning: profile skipped: {type(exc).__name__}: {exc}")
    return result


NEARBY_PACKAGES = ("flask", "sqlalchemy", "psycopg", "gunicorn", "numpy", "geographiclib")


def machine(packages: tuple[str, ...] = NEARBY_PACKAGES) -> dict[str, str]:
    """What the numbers were measured on, with the versions of `packages`."""
    info = {"nproc": str(os.cpu_count())}
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            info["ram"] = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            info["cpu"] = line.split(":", 1)[1].strip()
            break
    os_release = Path("/etc/os-release")
    if os_release.exists():
        for line in os_release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                info["os"] = line.split("=", 1)[1].strip('"')
    info["kernel"] = platform.release()
    info["python"] = platform.python_version()
    info["packages"] = ", ".join(f"{name} {metadata.version(name)}" for name in packages)
    wrk = wrk_binary()
    if wrk:
        result = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
        info["wrk"] = (result.stdout or result.stderr).splitlines()[0].split(" Copyright")[0]
    return info


def code_version() -> str:
    """The commit measured, and whether backend/ had uncommitted changes."""
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("log", "-1", "--format=%h %s")
    if not commit:
        return "unknown (not a git checkout)"
    dirty = git("status", "--porcelain", "--", "backend", "migrations")
    changed = len(dirty.splitlines())
    return f"`{commit}`" + (f", with {changed} uncommitted change(s) under backend/ and "
                            "migrations/" if changed else "")


def server_info(conn: psycopg.Connection) -> dict[str, str]:
    """PostgreSQL and PostGIS versions and the settings that matter here."""
    info = {}
    for key, sql in (("postgresql", "SHOW server_version"),
                     ("postgis", "SELECT postgis_lib_version()"),
                     ("shared_buffers", "SHOW shared_buffers"),
                     ("jit", "SHOW jit"), ("plan_cache_mode", "SHOW plan_cache_mode")):
        row = conn.execute(sql).fetchone()
        info[key] = str(row[0]) if row else "?"
    return info


def command_line(argv: list[str]) -> str:
    """The command as the user typed it (make or python -m)."""
    if os.environ.get("MAKELEVEL"):
        return f'make bench BENCH_ARGS="{shlex.join(argv)}"' if argv else "make bench"
    return " ".join(["python -m bench.run", *map(shlex.quote, argv)])


def headline_size(sizes: list[int]) -> int:
    """The size the targets are judged at: 10^6 when measured, else the largest."""
    return 1_000_000 if 1_000_000 in sizes else max(sizes)


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 1 when a result disagreed with the reference."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if wrk_binary() is None:
        print("wrk is not installed: run `bash bench/system-deps.sh` as root", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    VAR.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    code = code_version()
    url, private = bench_database()
    try:
        upgrade(url)
        log("schema is current")
        points = query_points(max(LOAD_POINTS, args.check_points), args.seed)
        results = []
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            server = server_info(conn)
            for size in args.size_list:
                headline = size == headline_size(args.size_list)
                results.append(bench_size(args, url, conn, size, points, headline))
        text = render(args, argv, started, code, machine(), server, results)
        print(text)
        if args.write_docs:
            DOCS.parent.mkdir(parents=True, exist_ok=True)
            DOCS.write_text(text)
            log(f"wrote {DOCS.relative_to(ROOT)}")
    finally:
        if private is not None and not args.keep_cluster:
            stop_cluster(private)
            log("private cluster stopped")
    status = 0 if all(r.checks.ok for r in results) else 1
    if args.uploads:  # its own cluster and docs/benchmarks-uploads.md
        from bench import uploads
        status = max(status, uploads.main(uploads.run_argv(args), command_line(argv)))
    return status


def kept_intro() -> list[str]:
    """Lines others put between the title and "Made by" in the current docs file."""
    if not DOCS.exists():
        return [""]
    lines = DOCS.read_text().splitlines()[1:]
    end = next((i for i, line in enumerate(lines) if line.startswith("Made by `")), 0)
    return lines[:end] or [""]


def kept_notes() -> str:
    """The hand-written notes section of the current docs file, or an empty one."""
    if DOCS.exists():
        text = DOCS.read_text()
        start, end = text.find(NOTES_START), text.find(NOTES_END)
        if 0 <= start < end:
            return text[start:end + len(NOTES_END)]
    return DEFAULT_NOTES


def render(args: argparse.Namespace, argv: list[str], started: datetime, code: str,
           host: dict[str, str], server: dict[str, str],
           results: list[report.SizeResult]) -> str:
    """docs/benchmarks.md."""
    cores = int(host["nproc"])
    at = next(r for r in results if r.size == headline_size(args.size_list))
    targets = report.evaluate(at, args.workers, args.threads)
    sections = [
        "# Benchmarks of the nearby search",
        *kept_intro(),
        f"Made by `{command_line(argv)}` on {started:%Y-%m-%d} (started {started:%H:%M} UTC); "
        "the file is rewritten by every run (`--no-write-docs` to keep it).",
        "",
        f"Code: {code}.",
        "",
        "## Machine",
        "",
        f"- {host['nproc']} CPUs ({host.get('cpu', '?')}), {host.get('ram', '?')} RAM, "
        f"{host.get('os', '?')}, Linux {host['kernel']}",
        f"- PostgreSQL {server['postgresql']} with PostGIS {server['postgis']} on 127.0.0.1 "
        f"(shared_buffers {server['shared_buffers']}, jit {server['jit']}, plan_cache_mode "
        f"{server['plan_cache_mode']}; fsync on, as in the private cluster of `make run`)",
        f"- Python {host['python']}; {host['packages']}; {host.get('wrk', 'wrk ?')}",
        f"- gunicorn as `make run` starts it (`--config python:backend.gunicorn_conf`, gthread): "
        f"{args.workers} workers x {args.threads} threads, access log off, the objects alive "
        "after the app loads frozen out of the garbage collector's walks (the reference app "
        "too); each worker's SQLAlchemy pool keeps one connection per thread that used it",
        ("- **HTTP figures go through the nginx front** (`deploy/nginx.conf.template`, as "
         "`make run` serves; gunicorn behind it on loopback TCP; nginx's own CPU is counted "
         "under \"other processes\"): `make bench BENCH_ARGS=--no-via-front` measures gunicorn "
         "alone"
         if args.via_front else
         "- **HTTP figures go straight to gunicorn** (on 127.0.0.1, no front proxy; `make run` "
         "puts nginx in front): `make bench BENCH_ARGS=--via-front` measures through it"),
        "- **The load generator shares the machine's cores with gunicorn and PostgreSQL**: every "
        "HTTP figure includes wrk's own CPU (counted in the CPU table). wrk (one thread, "
        f"{args.concurrency} keep-alive connections) is the lightest client available.",
        "",
        "## What is measured",
        "",
        f"Query: places within {args.radius:g} m, {args.limit} nearest, no filters. Places are "
        "generated with a fixed seed around 52 real city centres (population-weighted, "
        "gaussian hotspots of a few hundred metres and a lognormal spread of a few km; ~30% of "
        "ATMs stand exactly on a branch, 1.5% of places are decommissioned). Query points are "
        f"a fixed seeded set of {LOAD_POINTS}: 80% where the places crowd, 10% in city outskirts "
        "(10-40 km out), 10% anywhere on Earth (mostly nothing nearby).",
        "",
        "- **SQL, prepared**: `backend.places.service.NEARBY_SQL` with no filters and "
        f"k = limit + 9 = {first_round_k(args.limit)} (the first round of "
        "`find_nearby_places`), psycopg placeholders, `prepare=True`, binary results (as the "
        f"endpoint), rows fetched, one connection, serial, {args.queries:,} queries after 200 "
        "unmeasured ones.",
        f"- **SQL, new connection per query**: the same statement, connect + query + close, "
        f"{args.fresh_queries:,} queries: what a request would pay without a pool.",
        f"- **HTTP nearby**: `GET {nearby_path(51.5, -0.12, args.radius, args.limit)}` with "
        f"the points in turn, {args.duration:g} s measured after {args.warmup:g} s of warm-up "
        "and a 1 s pause (fresh wrk connections for the measured run). Latency percentiles "
        "are wrk's.",
        "- **HTTP `/healthz`**: the same server, `{\"status\": \"ok\"}`: Flask + gunicorn "
        "with no work.",
        f"- **Brute force**: every non-decommissioned point in numpy arrays; each query computes "
        "the haversine distance to all of them, then the exact WGS84 geodesic (geographiclib) "
        f"in sphere order until the {args.limit}th best is certain; {args.check_points} "
        "query points.",
        "",
        "## Results",
        "",
        report.results_table(results, args.concurrency),
        "",
        "### Ratios",
        "",
        report.ratios_table(results),
        "",
        "### Against the reference app",
        "",
        "`bench/minimal.py` under the same gunicorn settings on the same table: plain Flask, "
        "one psycopg connection per thread, one prepared KNN + `ST_DWithin` statement with the "
        "spheroid distance and bearing, the same GeoJSON shape (hours and repayment facts left "
        "null, no validation, no order proof, no cursor); `/nearby-pg` has PostgreSQL build the "
        "FeatureCollection; its `/healthz` is bare Flask. Each round runs every line once, in "
        "alternating order (forward, then backward), each after its own warm-up and pause; the "
        "median round counts. \"vs reference\" is the median's ratio (Nearbank nearby against "
        "the json.dumps reference, Nearbank `/healthz` against bare Flask). A run where one worker "
        f"did over 70% of the work is measured again (at most {BALANCE_RETRIES} times). \"vs "
        "reference by CPU\" divides the reference's CPU per request (gunicorn workers, the "
        "PostgreSQL backends serving them, wrk) by Nearbank's: the throughput ratio two "
        "CPU-bound servers would have on an otherwise idle machine, less disturbed by other "
        "processes than the requests per second are.",
        "",
        report.comparison_table(results, cores),
        "",
        "### CPU per request",
        "",
        "CPU time (/proc) of the gunicorn workers, of the PostgreSQL backends serving them and "
        "of the load generator during each measured run, divided by the requests served; "
        "\"machine busy\" is all CPU use (/proc/stat) during the run, \"interrupts\" its irq and "
        "softirq time (loopback networking, charged to no process), \"other processes\" the rest "
        "that none of the benchmark's processes account for (other work on the machine "
        "disturbing the run).",
        "",
        report.cpu_table(results, cores),
        "",
        "### Memory",
        "",
        report.memory_table(results),
        "",
        "### Correctness",
        "",
        f"For each check point the HTTP page must equal the brute force's: same places in the "
        f"same order, distances within {HTTP_DISTANCE_TOLERANCE_M:g} m (the API rounds to "
        "0.1 m). Places at exactly the same distance (an ATM on its branch) must come in id "
        "order; distinct places whose exact distances differ by under 1 mm may come in either "
        "order (counted as near-tie swaps). The benchmarked SQL's rows must be within the radius, "
        f"with distances within {SQL_DISTANCE_TOLERANCE_M:g} m of the exact geodesic, and as many "
        "as there are places in the radius (up to k).",
        "",
        report.checks_table(results, args.limit),
        "",
        f"## Targets (at {at.size:,} places)",
        "",
        report.targets_table(targets),
        "",
        report.why(at, targets, cores, server["shared_buffers"]),
        "",
    ]
    if at.explain:
        sections += [
            f"## EXPLAIN (ANALYZE, BUFFERS) at {at.size:,} places",
            "",
            "The benchmarked statement with one query point's values inlined; the second run "
            "(warm cache) is shown.",
            "",
            "```text",
            at.explain,
            "```",
            "",
        ]
    sections += [kept_notes(), ""]
    return "\n".join(sections)


if __name__ == "__main__":
    sys.exit(main())
