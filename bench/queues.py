"""Cost of branch queues: nearby with queue data against without, and a feed of 1,000 lines/s.

    .venv/bin/python -m bench.queues [--places 100000] [--duration 5] [--rounds 3]

1. Nearby with and without queue data, in the same run: `GET /api/v1/branches/nearby` (the
   page's branch lines merged into every feature, from the workers' cache or one MGET; every
   branch has live lines) and `GET /api/v1/places/nearby?kind=branch` (the same query and page,
   no queue data), both under wrk through gunicorn on loopback, alternating rounds; the ratio
   of their medians, and the MGETs Redis served per request. Then the same comparison while a
   feed of 1,000 lines a second runs (every report empties the cached states of its branches;
   `--no-feed-rounds` skips it).
2. A feed of 1,000 branch lines a second: one bulk request of 1,000 lines (250 branches x 4
   lines) each second through gunicorn, then as fast as two clients can send; lines absorbed a
   second, request latency, and the CPU that gunicorn, Redis and PostgreSQL spent.

A private PostGIS cluster and Redis live in var/bench-queues/ and are stopped at the end. The
results go to stdout (Markdown rows for docs/benchmarks-queues.md).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from backend.migrate import upgrade
from backend.pgcluster import ensure_cluster, stop_cluster
from backend.rediscluster import ensure_redis, stop_redis
from bench.generate import copy_places, libpq_url, query_points
from bench.httpbench import Gunicorn, measure
from bench.stats import child_pids, proc_cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench-queues"
LINES = ("counter", "cash", "advisor", "priority")
SYSTEM_EMAIL, SYSTEM_PASSWORD = "bench-qms@example.com", "bench queue system password"


def log(message: str) -> None:
    print(f"[bench-queues {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _pids_of_cluster(datadir: Path) -> list[int]:
    postmaster = int((datadir / "postmaster.pid").read_text().split()[0])
    return [postmaster, *child_pids(postmaster)]


def _redis_pid(folder: Path) -> int:
    return int((folder / "redis.pid").read_text().strip())


def _cpu(pids: list[int]) -> float:
    return sum(proc_cpu_seconds(pid) or 0.0 for pid in pids)


def prepare(places: int) -> tuple[object, str, list[str]]:
    """Cluster, Redis, schema, places, a bound queue system and live lines for every branch."""
    cluster = ensure_cluster(VAR / "pgdata", durable=False)
    redis_url = ensure_redis(VAR / "redis")
    upgrade(cluster.owner_url)
    with psycopg.connect(libpq_url(cluster.admin_url)) as conn:
        count = conn.execute("SELECT count(*) FROM places").fetchone()[0]
        if count != places:
            log(f"loading {places} places")
            conn.execute("TRUNCATE places RESTART IDENTITY CASCADE")
            copy_places(conn, places, progress=False)
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM (ANALYZE) places")
            conn.autocommit = False
    os.environ.update(DATABASE_URL=cluster.url, REDIS_URL=redis_url,
                      QUEUE_LIVE_TTL_SECONDS="3600", AUTH_RATE_LIMIT="1000 per minute")
    from backend import create_app
    from backend.accounts.service import create_user, find_user_by_email
    from backend.extensions import db
    from backend.queues.service import hour_of_week
    from backend.queues.store import LineWrite, LiveLine

    app = create_app()
    with app.app_context():
        user = find_user_by_email(db.session, SYSTEM_EMAIL) or create_user(
            db.session, SYSTEM_EMAIL, SYSTEM_PASSWORD, "queue_system")
        db.session.execute(db_text("""
            INSERT INTO queue_system_branches (user_id, place_id)
            SELECT :u, id FROM places WHERE kind = 'branch' ON CONFLICT DO NOTHING"""),
            {"u": user.id})
        db.session.commit()
        rows = db.session.execute(db_text(
            "SELECT id, public_id, timezone FROM places WHERE kind = 'branch' ORDER BY id")).all()
        store = app.extensions["queue_store"]
        store.client.flushdb()
        now = datetime.now(UTC)
        stamp = int(now.timestamp() * 1000)
        for start in range(0, len(rows), 250):
            writes = [LineWrite(r.id, LiveLine(line, 5, 2, 240.0, stamp, 2), stamp + 3_600_000,
                                hour_of_week(now, r.timezone), 5.0)
                      for r in rows[start:start + 250] for line in LINES]
            store.write(writes, flush_interval_s=3600)
        db.engine.dispose()
    log(f"{len(rows)} branches with live lines in Redis")
    return cluster, redis_url, [str(r.public_id) for r in rows]


def db_text(sql: str):
    from sqlalchemy import text

    return text(sql)


def _mgets() -> int:
    """MGET calls Redis has served since it started (INFO commandstats)."""
    import redis

    stat = redis.Redis.from_url(os.environ["REDIS_URL"]).info("commandstats").get("cmdstat_mget")
    return 0 if stat is None else stat["calls"]


class PacedFeed:
    """A queue system's feed in the background: one bulk report of 1,000 lines each second."""

    def __init__(self, port: int, branches: list[str]) -> None:
        self.port, self.branches = port, branches
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        feed = FeedClient(self.port, _login(self.port), self.branches)
        began = time.monotonic()
        while not self.stop.is_set():
            feed.send()
            self.sent += 1
            self.stop.wait(max(0.0, began + self.sent - time.monotonic()))

    def __enter__(self) -> PacedFeed:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join()
        log(f"feed: {self.sent} reports of 1,000 lines sent")


def nearby_rows(server: Gunicorn, points, duration: float, rounds: int, work: Path) -> list[str]:
    with_queue = [f"/api/v1/branches/nearby?lat={lat!r}&lon={lon!r}&radius_m=5000&limit=20"
                  for lat, lon in points]
    without = [f"/api/v1/places/nearby?kind=branch&lat={lat!r}&lon={lon!r}&radius_m=5000"
               f"&limit=20" for lat, lon in points]
    results: dict[str, list] = {"with": [], "without": []}
    mgets: dict[str, list[float]] = {"with": [], "without": []}
    measure(server, with_queue, work, 2.0, 8, None)  # warm-up: caches, pools, prepared plans
    measure(server, without, work, 2.0, 8, None)
    for index in range(rounds):
        for name, paths in (("without", without), ("with", with_queue)) if index % 2 else (
                ("with", with_queue), ("without", without)):
            calls = _mgets()
            run = measure(server, paths, work, duration, 8, None)
            if run.errors:
                raise RuntimeError(f"{run.errors} errors in the {name} run")
            results[name].append(run)
            mgets[name].append((_mgets() - calls) / max(1, run.latency.count))
            log(f"nearby {name} queue data: {run.latency.per_second:,.0f} req/s, "
                f"p50 {run.latency.p50_ms:.2f} ms")
    rows = ["| nearby branches (20 a page, 5 km) | req/s (median of rounds) | p50 ms | p99 ms | "
            "worker CPU µs/request | Redis MGETs/request |", "|---|---|---|---|---|---|"]
    medians = {}
    for name in ("without", "with"):
        runs = results[name]
        rps = statistics.median(r.latency.per_second for r in runs)
        medians[name] = rps
        rows.append(f"| {name} queue data | {rps:,.0f} | "
                    f"{statistics.median(r.latency.p50_ms for r in runs):.2f} | "
                    f"{statistics.median(r.latency.p99_ms for r in runs):.2f} | "
                    f"{statistics.median(r.per_request_us(r.worker_cpu_s) for r in runs):,.0f} | "
                    f"{statistics.median(mgets[name]):.3f} |")
    cpu_with = statistics.median(r.per_request_us(r.worker_cpu_s) for r in results["with"])
    cpu_without = statistics.median(r.per_request_us(r.worker_cpu_s)
                                    for r in results["without"])
    rows.append(f"\nwith / without: throughput {medians['with'] / medians['without']:.3f}, "
                f"worker CPU per request {cpu_with / cpu_without:.3f} "
                f"(+{(cpu_with / cpu_without - 1) * 100:.1f}%)")
    rows.append("")
    for name in ("without", "with"):
        rows.append(f"Rounds, {name} queue data (req/s): " + ", ".join(
            f"{r.latency.per_second:,.0f}" for r in results[name]) + "  ")
    return rows


class FeedClient:
    """Sends bulk reports of 1,000 lines over one keep-alive connection."""

    def __init__(self, port: int, token: str, branches: list[str]) -> None:
        self.port, self.token, self.branches = port, token, branches
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.offset = 0

    def send(self) -> tuple[float, int]:
        batch = [self.branches[(self.offset + i) % len(self.branches)] for i in range(250)]
        self.offset += 250
        as_of = datetime.now(UTC).isoformat()
        body = json.dumps({"reports": [
            {"branch_id": b, "as_of": as_of, "lines": [
                {"line": line, "waiting": (i + n) % 12, "open_desks": 2, "serving": 2,
                 "mean_service_s": 200 + n} for n, line in enumerate(LINES)]}
            for i, b in enumerate(batch)]})
        started = time.perf_counter()
        self.conn.request("POST", "/api/v1/queue-reports", body=body, headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
        response = self.conn.getresponse()
        answer = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"feed answered {response.status}: {answer}")
        return time.perf_counter() - started, answer["accepted"]


def _login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/api/v1/auth/login", body=json.dumps(
        {"email": SYSTEM_EMAIL, "password": SYSTEM_PASSWORD}),
        headers={"Content-Type": "application/json"})
    return json.loads(conn.getresponse().read())["access_token"]


def feed_rows(server: Gunicorn, cluster, branches: list[str], seconds: float) -> list[str]:
    token = _login(server.port)
    pg = _pids_of_cluster(cluster.datadir)
    redis_pid = _redis_pid(VAR / "redis")
    rows = ["| feed | lines/s absorbed | request p50 ms | request p99 ms | gunicorn CPU | "
            "Redis CPU | PostgreSQL CPU |", "|---|---|---|---|---|---|---|"]

    def run(name: str, clients: int, paced: bool) -> None:
        workers = server.worker_pids()
        before = (_cpu(workers), _cpu([redis_pid]), _cpu(pg))
        latencies: list[float] = []
        accepted = [0]
        lock = threading.Lock()
        began = time.monotonic()

        def client(index: int) -> None:
            feed = FeedClient(server.port, token, branches[index::clients])
            sent = 0
            while time.monotonic() - began < seconds:
                took, ok = feed.send()
                with lock:
                    latencies.append(took)
                    accepted[0] += ok
                sent += 1
                if paced:
                    time.sleep(max(0.0, began + sent - time.monotonic()))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - began
        after = (_cpu(workers), _cpu([redis_pid]), _cpu(pg))
        shares = [f"{(a - b) / wall * 100:.0f}% of a core" for a, b in zip(after, before,
                                                                            strict=True)]
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        rows.append(f"| {name} | {accepted[0] / wall:,.0f} | "
                    f"{statistics.median(latencies) * 1000:.0f} | {p99 * 1000:.0f} | "
                    + " | ".join(shares) + " |")
        log(rows[-1])

    run("1 request of 1,000 lines each second", 1, True)
    run("as fast as 2 clients send (1,000 lines a request)", 2, False)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queues", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--places", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each")
    parser.add_argument("--feed-seconds", type=float, default=15.0)
    parser.add_argument("--no-feed-rounds", action="store_true",
                        help="skip the nearby comparison with a feed running")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    VAR.mkdir(parents=True, exist_ok=True)
    cluster, _, branches = prepare(args.places)
    work = VAR / "work"
    work.mkdir(exist_ok=True)
    try:
        with Gunicorn(cluster.url, args.workers, args.threads, VAR / "gunicorn.log") as server:
            points = query_points(1000)
            lines = nearby_rows(server, points, args.duration, args.rounds, work)
            if not args.no_feed_rounds:
                with PacedFeed(server.port, branches):
                    lines += ["", "With a feed of 1,000 lines a second running (1 request of "
                              "1,000 lines each second):", ""]
                    lines += nearby_rows(server, points, args.duration, args.rounds, work)
            lines += [""] + feed_rows(server, cluster, branches, args.feed_seconds)
    finally:
        stop_redis(VAR / "redis")
        stop_cluster(VAR / "pgdata")
    print(f"{args.places:,} places ({len(branches):,} branches, every one with 4 live lines); "
          f"gunicorn {args.workers} workers x {args.threads} threads; wrk 8 connections")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
