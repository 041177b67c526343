"""The database as a dependency, through a real gunicorn and a real PostgreSQL that we stop.

A private cluster of its own (the suite's shared one keeps running) serves a gunicorn on
loopback. With the database stopped, every endpoint that needs it answers 503 problem+json with
Retry-After, quickly, and logs one line per failure; started again, the very next requests all
succeed. The same server shows that an announced 300 MB body is answered 413 before any of it
is sent. The figures are printed for the record (`pytest -s` shows them).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from backend.migrate import upgrade
from backend.pgcluster import destroy_cluster, ensure_cluster, free_port, stop_cluster

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "branches" / "sample.csv"
SECRET = "outage-test-secret-that-is-long-enough-for-hs256"
PASSWORD = "outage password 1"
AFTER_RECOVERY = 200


def _call(base: str, method: str, path: str, body: dict | None = None,
          token: str | None = None) -> tuple[int, dict, dict, float]:
    """(status, headers, JSON body, seconds) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, dict(error.headers), error.read()
    elapsed = time.perf_counter() - started
    return status, headers, json.loads(raw) if raw else {}, elapsed


@pytest.fixture(scope="module")
def served():
    """A private cluster with the sample data and two users, and gunicorn serving it."""
    scratch = Path(tempfile.mkdtemp(prefix="nearbank-outage-"))
    scratch.chmod(0o755)
    datadir = scratch / "pgdata"
    server = None
    try:
        cluster = ensure_cluster(datadir, durable=False)
        upgrade(cluster.owner_url)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
        env.update(DATABASE_URL=cluster.url, JWT_SECRET_KEY=SECRET)
        seed = subprocess.run([sys.executable, "-c", f"""
from backend import create_app
from backend.config import Config
from backend.extensions import db
from backend.uploads.loader import load_places_file
from backend.accounts.service import create_user
app = create_app(Config())
with app.app_context():
    load_places_file(db.session, {str(SAMPLE)!r})
    create_user(db.session, "holder@example.com", {PASSWORD!r}, "cardholder", "H", "gold")
    create_user(db.session, "reviewer@example.com", {PASSWORD!r}, "reviewer", "R", None)
"""], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert seed.returncode == 0, seed.stderr
        port = free_port()
        errors = scratch / "gunicorn.err"
        env.update(PORT=str(port), WEB_CONCURRENCY="1", WEB_THREADS="4", ACCESS_LOG="/dev/null")
        with errors.open("w") as sink:
            server = subprocess.Popen(
                [str(Path(sys.executable).with_name("gunicorn")), "--config",
                 "python:backend.gunicorn_conf", "backend.wsgi:app"],
                cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert server.poll() is None, errors.read_text()
            try:
                if _call(base, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("gunicorn did not become ready")
        yield {"base": base, "datadir": datadir, "errors": errors}
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        destroy_cluster(datadir)
        for leftover in scratch.iterdir():
            leftover.unlink()
        scratch.rmdir()


def test_stopped_database_is_503_quickly_and_recovery_loses_no_request(served):
    base = served["base"]
    holder = _call(base, "POST", "/api/v1/auth/login",
                   {"email": "holder@example.com", "password": PASSWORD})[2]["access_token"]
    reviewer = _call(base, "POST", "/api/v1/auth/login",
                     {"email": "reviewer@example.com", "password": PASSWORD})[2]["access_token"]
    consent = {"promotions_enabled": True, "categories": ["dining"], "channel": "app",
               "policy_version": "2026-11"}
    assert _call(base, "PUT", "/api/v1/me/consent", consent, holder)[0] == 200
    place = _call(base, "GET", "/api/v1/places?bbox=-180,-90,180,90&limit=1")[2]["features"][0]
    requests = [
        ("GET", "/api/v1/branches/nearby?lat=51.5133&lon=-0.0890", None, None),
        ("GET", "/api/v1/repayment-points/nearby?lat=1.2840&lon=103.8514", None, None),
        ("GET", "/api/v1/places?bbox=-1,51,1,52", None, None),
        ("GET", f"/api/v1/places/{place['id']}", None, None),
        ("POST", "/api/v1/auth/login", {"email": "holder@example.com", "password": PASSWORD},
         None),
        ("GET", "/api/v1/me", None, holder),
        ("GET", "/api/v1/me/consent", None, holder),
        ("GET", "/api/v1/offers/nearby?lat=51.5133&lon=-0.0890", None, holder),
        ("GET", "/api/v1/review/offers", None, reviewer),
    ]
    for method, path, body, token in requests:
        assert _call(base, method, path, body, token)[0] == 200, path

    log_before = served["errors"].read_text()
    assert stop_cluster(served["datadir"])
    latencies = []
    for method, path, body, token in requests:
        status, headers, problem, elapsed = _call(base, method, path, body, token)
        assert status == 503, (path, status, problem)
        assert headers["Content-Type"] == "application/problem+json"
        assert int(headers["Retry-After"]) > 0
        assert problem["status"] == 503 and "Traceback" not in json.dumps(problem)
        latencies.append(elapsed)
    ready = _call(base, "GET", "/readyz")
    assert ready[0] == 503 and int(ready[1]["Retry-After"]) > 0
    assert _call(base, "GET", "/healthz")[0] == 200
    # The bound for "about a second": connect_timeout is 1 s; a refused connection is instant.
    assert max(latencies) < 5

    log = served["errors"].read_text()[len(log_before):]
    failure_lines = [line for line in log.splitlines() if "database unavailable" in line]
    assert len(failure_lines) == len(requests), log
    assert "Traceback" not in log and "51.5133" not in log and "103.8514" not in log
    assert len(log.splitlines()) == len(requests), log

    ensure_cluster(served["datadir"], durable=False)
    failed = 0
    for index in range(AFTER_RECOVERY):
        method, path, body, token = requests[index % len(requests)]
        if method == "POST":  # login costs an argon2 hash; read instead
            method, path, body = "GET", "/api/v1/me", None
            token = holder
        if _call(base, method, path, body, token)[0] != 200:
            failed += 1
    print(f"\ndatabase stopped: {len(latencies)} endpoints answered 503 + Retry-After, "
          f"latency max {max(latencies) * 1000:.0f} ms, median "
          f"{sorted(latencies)[len(latencies) // 2] * 1000:.0f} ms; "
          f"{len(failure_lines)} log lines for {len(requests)} failures; "
          f"after restart: {failed} failed of {AFTER_RECOVERY}")
    assert failed == 0


def test_overlong_query_string_is_a_problem_through_gunicorn(served):
    # Longer than MAX_QUERY_BYTES (2048) but within gunicorn's request line limit (4094).
    status, headers, problem, _ = _call(served["base"], "GET", "/api/v1/branches/nearby?"
                                        "lat=51.5&lon=-0.1&services=" + "x" * 3000)
    assert status == 414 and headers["Content-Type"] == "application/problem+json"
    assert problem["status"] == 414


def test_300_mb_body_gets_its_413_before_any_of_it_is_sent(served):
    # Through gunicorn: the headers announce 300 MB, the body never comes, the answer does.
    host, port = served["base"].removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        started = time.perf_counter()
        sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: application/json\r\n"
                     b"Content-Length: " + str(300 * 1024 * 1024).encode() + b"\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        elapsed = time.perf_counter() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"Content-Type: application/problem+json" in head
    assert json.loads(body)["limit_bytes"] == 1024 * 1024
    print(f"\n300 MB body announced, nothing sent: 413 after {elapsed * 1000:.0f} ms")
