"""The serving stack for real: nginx in front of two gunicorn instances, one Redis, one PostgreSQL,
all on loopback or Unix sockets, started by the helpers `make run` uses.

Figures (latencies, the front's added cost) are printed for the record, not asserted beyond the
targets the issue sets; run with `-s` to see them.
"""

from __future__ import annotations

import gzip
import os
import socket
import ssl
import stat
import statistics
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest
import redis

from backend.pgcluster import APP, pg_bindir
from backend.rediscluster import ensure_redis, stop_redis
from tests.serving import SAMPLE_CSV, request, start_stack, timed

PASSWORD = "a long enough password 1"
LAT, LON = "51.51337", "-0.08901"  # a query point no other test uses
NEARBY = f"/api/v1/branches/nearby?lat={LAT}&lon={LON}&limit=3"
# Slow-client test: how long the slow sockets are held (the issue asks for 20 s).
HOLD_SECONDS = float(os.environ.get("NEARBANK_SLOW_HOLD", "20"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        # The operators' commands find the private services under NEARBANK_VAR by themselves.
        bare = {k: v for k, v in stack.env.items()
                if k not in ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "JWT_SECRET_KEY")}
        env, stack.env = stack.env, bare
        loaded = stack.flask("places", "load", str(SAMPLE_CSV))
        assert loaded.returncode == 0, loaded.stderr
        created = stack.flask("users", "create", "--email", "holder@example.com", "--role",
                              "cardholder", "--password", PASSWORD)
        assert created.returncode == 0, created.stderr
        stack.env = env
        yield stack
    finally:
        stack.close()


def _raw(port: int, payload: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except TimeoutError:
            pass
    return data


def _problem(reply_bytes: bytes, status: int) -> None:
    head, _, body = reply_bytes.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split(b" ")[1] == str(status).encode(), head
    assert b"content-type: application/problem+json" in head.lower(), head
    assert f'"status": {status}'.encode() in body, body


def test_the_fronts_own_errors_are_problem_json(stack):
    _problem(_raw(stack.port, b"NOT HTTP\r\n\r\n"), 400)
    _problem(_raw(stack.port, b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"), 414)
    # JSON endpoints take bodies up to MAX_JSON_BYTES (1 MiB) only.
    big = request(stack.http(), "POST", "/api/v1/auth/login",
                  body=b'{"email": "' + b"x" * 2_000_000 + b'"}',
                  headers={"Content-Type": "application/json"})
    assert big.status == 413 and big.headers["content-type"] == "application/problem+json"
    assert big.json()["status"] == 413
    # The error pages cannot be requested themselves.
    assert request(stack.http(), "GET", "/_problem/400").status == 404


def test_a_300_mb_upload_is_refused_with_413_at_once(stack):
    size = 300 * 1024 * 1024
    chunk = b"0" * 65536
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as sock:
        started = time.perf_counter()
        sock.sendall(b"POST /api/v1/uploads HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: " + str(size).encode() + b"\r\n\r\n")
        sock.setblocking(False)
        sent, reply = 0, b""
        while b"\r\n\r\n" not in reply and time.perf_counter() - started < 10:
            try:
                reply += sock.recv(65536)
                continue
            except BlockingIOError:
                pass
            except ConnectionResetError:
                break
            try:
                sent += sock.send(chunk) if sent < size else 0
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                time.sleep(0.001)
        elapsed = time.perf_counter() - started
    status_line = reply.split(b"\r\n")[0].decode()
    print(f"\n300 MB upload: {status_line} after {elapsed * 1000:.1f} ms, "
          f"{sent / 1e6:.1f} MB of the body sent")
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert elapsed < 2.0


def test_json_is_compressed(stack):
    reply = request(stack.http(), "GET", "/api/v1/places?bbox=-180,-90,180,90&limit=200",
                    headers={"Accept-Encoding": "gzip"})
    assert reply.status == 200
    assert reply.headers["content-encoding"] == "gzip"
    import json

    document = json.loads(gzip.decompress(reply.body))
    print(f"\n/api/v1/places (200 places): {len(reply.body)} bytes gzip, "
          f"{len(gzip.decompress(reply.body))} bytes plain")
    assert document["count"] == 200


def test_login_limit_counts_across_two_instances(stack):
    statuses = []
    for _ in range(11):
        reply = request(stack.http(), "POST", "/api/v1/auth/login",
                        body={"email": "nobody@example.com", "password": "wrong password"})
        statuses.append(reply.status)
    assert statuses == [401] * 10 + [429], statuses
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["status"] == 429
    assert 0 < int(reply.headers["retry-after"]) <= 60
    assert reply.headers["x-ratelimit-limit"] == "10"
    assert reply.headers["x-ratelimit-remaining"] == "0"
    # nginx sent the attempts to both instances, and each counted in the shared Redis.
    for name in ("a", "b"):
        log = Path(stack.instances[name].env["ACCESS_LOG"]).read_text()
        assert '"POST /api/v1/auth/login" 401' in log, name
    # Public reads are not limited and do not wait for the limit to pass.
    assert request(stack.http(), "GET", NEARBY).status == 200


def _login(instance, client: str) -> dict:
    reply = request(instance.http(), "POST", "/api/v1/auth/login",
                    body={"email": "holder@example.com", "password": PASSWORD},
                    headers={"X-Forwarded-For": client})
    assert reply.status == 200, reply.body
    return reply.json()


def test_logout_on_one_instance_revokes_the_token_on_the_other(stack):
    # Straight to each instance's socket, as the front would pass a client's request.
    a, b = stack.instances["a"], stack.instances["b"]
    client = {"X-Forwarded-For": "192.0.2.10"}
    tokens = _login(a, client["X-Forwarded-For"])
    bearer = {**client, "Authorization": f"Bearer {tokens['access_token']}"}
    assert request(b.http(), "GET", "/api/v1/me", headers=bearer).status == 200
    assert request(a.http(), "POST", "/api/v1/auth/logout", headers=bearer).status in (200, 204)
    after = request(b.http(), "GET", "/api/v1/me", headers=bearer)
    assert after.status == 401 and after.headers["content-type"] == "application/problem+json"


def test_a_queue_report_through_one_instance_is_seen_at_once_through_the_other(stack):
    # Each instance keeps the branch states it has read; a report through the other instance
    # (or any change in Redis) must show in its very next answer, not after some delay.
    a, b = stack.instances["a"], stack.instances["b"]
    client = {"X-Forwarded-For": "192.0.2.11"}
    nearest = request(a.http(), "GET", NEARBY, headers=client).json()["features"][0]["id"]
    created = stack.flask("users", "create", "--email", "feed@example.com", "--role",
                          "queue_system", "--password", PASSWORD)
    assert created.returncode == 0, created.stderr
    bound = stack.flask("queue", "bind", "feed@example.com", nearest)
    assert bound.returncode == 0, bound.stderr
    token = request(a.http(), "POST", "/api/v1/auth/login", headers=client,
                    body={"email": "feed@example.com", "password": PASSWORD}).json()
    feed = {**client, "Authorization": f"Bearer {token['access_token']}"}

    def waiting_seen_by(instance) -> int | None:
        page = request(instance.http(), "GET", NEARBY, headers=client).json()
        queue = next(f for f in page["features"] if f["id"] == nearest)["properties"]["queue"]
        return queue["lines"][0]["waiting"] if queue["lines"] else None

    assert waiting_seen_by(a) is None and waiting_seen_by(b) is None  # both now hold "nothing"
    start = time.time()
    for step in range(12):
        writer, reader = (a, b) if step % 2 == 0 else (b, a)
        as_of = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start - 60 + step))
        put = request(writer.http(), "PUT", f"/api/v1/branches/{nearest}/queue", headers=feed,
                      body={"as_of": as_of, "lines": [{"line": "counter", "waiting": step,
                                                       "open_desks": 2,
                                                       "mean_service_s": 240}]})
        assert put.status == 200 and put.json()["accepted"] == 1, put.body
        assert waiting_seen_by(reader) == step, f"step {step}: {writer.name} -> {reader.name}"
        assert waiting_seen_by(writer) == step
    # A change made outside the app (an operator's redis-cli) too.
    redis.Redis.from_url(stack.redis_url).delete(f"nb:qb:{_place_id(stack, nearest)}")
    assert waiting_seen_by(a) is None and waiting_seen_by(b) is None


def _place_id(stack, public_id: str) -> int:
    with psycopg.connect(stack.cluster.url.replace("+psycopg", "")) as conn:
        return conn.execute("SELECT id FROM places WHERE public_id = %s",
                            (public_id,)).fetchone()[0]


def test_login_limit_holds_with_two_workers_and_across_a_restart(stack):
    instance = stack.start_instance("two-workers", WEB_CONCURRENCY="2")
    try:
        client = {"X-Forwarded-For": "192.0.2.20"}
        body = {"email": "nobody@example.com", "password": "wrong password"}
        statuses = [request(instance.http(), "POST", "/api/v1/auth/login", body=body,
                            headers=client).status for _ in range(11)]
        assert statuses == [401] * 10 + [429], statuses
        # Another client address has its own count.
        other = request(instance.http(), "POST", "/api/v1/auth/login", body=body,
                        headers={"X-Forwarded-For": "192.0.2.21"})
        assert other.status == 401
        instance.stop()
        instance = stack.start_instance("two-workers", WEB_CONCURRENCY="2")
        again = request(instance.http(), "POST", "/api/v1/auth/login", body=body,
                        headers=client)
        assert again.status == 429 and "retry-after" in again.headers
        keys = redis.Redis.from_url(stack.redis_url).keys("*")
        assert any(b"192.0.2.20" in key for key in keys), keys
    finally:
        instance.stop()


def test_logins_fail_closed_and_reads_keep_working_when_redis_is_down(stack):
    folder = stack.var / "redis-doomed"
    url = ensure_redis(folder)
    instance = stack.start_instance("doomed", REDIS_URL=url)
    try:
        client = {"X-Forwarded-For": "192.0.2.30"}
        body = {"email": "nobody@example.com", "password": "wrong password"}
        assert request(instance.http(), "POST", "/api/v1/auth/login", body=body,
                       headers=client).status == 401
        stop_redis(folder)
        refused = request(instance.http(), "POST", "/api/v1/auth/login", body=body,
                          headers=client)
        assert refused.status == 503, refused.body
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) > 0
        # Place search is limited the same way: refused before the geocoder is ever asked.
        search = request(instance.http(), "GET", "/api/v1/geocode?q=Bank", headers=client)
        assert search.status == 503, search.body
        assert search.headers["content-type"] == "application/problem+json"
        assert int(search.headers["retry-after"]) > 0
        assert b"rate-limited" in search.body
        assert request(instance.http(), "GET", NEARBY, headers=client).status == 200
        assert request(instance.http(), "GET", "/healthz").status == 200
    finally:
        instance.stop()
        stop_redis(folder)


def test_another_os_user_cannot_reach_the_database(stack):
    port = str(stack.cluster.port)
    psql = str(pg_bindir() / "psql")
    for role in ("postgres", "nearbank_owner", "nearbank_app"):
        run = subprocess.run(["runuser", "-u", "nobody", "--", psql, "-w", "-h", "127.0.0.1",
                              "-p", port, "-U", role, "-d", "nearbank", "-c", "SELECT 1"],
                             capture_output=True, text=True, timeout=30)
        assert run.returncode != 0, run.stdout
        assert "password" in run.stderr, run.stderr
    # Nor read the passwords.
    run = subprocess.run(["runuser", "-u", "nobody", "--", "cat",
                          str(stack.var / "pgdata.passwords")], capture_output=True, text=True)
    assert run.returncode != 0 and "Permission denied" in run.stderr


def test_the_app_role_owns_nothing_and_only_reads_and_writes_rows(stack):
    url = stack.cluster.url.replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as conn:
        owned = conn.execute("SELECT count(*) FROM pg_class c JOIN pg_roles r "
                             "ON r.oid = c.relowner WHERE r.rolname = %s", (APP,)).fetchone()
        assert owned == (0,)
        assert conn.execute("SELECT count(*) FROM places").fetchone()[0] > 0
        for statement in ("CREATE TABLE x (i int)", "DROP TABLE places",
                          "ALTER TABLE users ADD COLUMN x int", "TRUNCATE places"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def _files(var: Path):
    for folder, dirs, files in os.walk(var, followlinks=True):
        for name in dirs + files:
            yield Path(folder) / name


def test_no_file_under_var_holds_the_coordinates_of_a_query(stack):
    assert request(stack.http(), "GET", NEARBY).status == 200
    assert request(stack.http(), "GET", f"/api/v1/places/nearby?lat={LAT}&lon={LON}&limit=-5"
                   ).status == 400
    assert request(stack.http(), "GET", NEARBY + "&x=" + "y" * 9000).status == 414
    time.sleep(0.5)  # the servers write their logs
    access = (stack.fronts["main"][0].folder / "access.log").read_text()
    assert '127.0.0.0/24 [' in access and '"GET /api/v1/branches/nearby" 200' in access
    assert "127.0.0.1" not in access
    hits = []
    for path in _files(stack.var):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if LAT.encode() in data or LON.encode() in data:
                hits.append(str(path))
    assert hits == []


def test_every_file_under_var_is_private(stack):
    loose = []
    for path in _files(stack.var):
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & 0o077:
            loose.append(f"{oct(stat.S_IMODE(mode))} {path}")
    assert loose == []
    assert stat.S_IMODE(stack.var.stat().st_mode) == 0o700
    # Each instance has its own control socket.
    for name in ("a", "b"):
        assert stat.S_ISSOCK((stack.var / "run" / f"{name}.ctl").stat().st_mode)


def _hold_slow_clients(port: int, until: float, counters: dict) -> None:
    """64 sockets sending their headers a line at a time, 32 whose bodies stall."""

    def open_slow_header():
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        return sock

    def open_stalled_body():
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nContent-Length: 4000\r\n\r\n{\"email\": ")
        return sock

    kinds = [open_slow_header] * 64 + [open_stalled_body] * 32
    socks = [opener() for opener in kinds]
    counters["opened"] = len(socks)
    try:
        while time.monotonic() < until:
            for i, sock in enumerate(socks):
                try:
                    sock.sendall(b"X-Slow: 1\r\n" if i < 64 else b" ")
                except OSError:  # the front gave up on it (timeout): come back at once
                    sock.close()
                    counters["reopened"] = counters.get("reopened", 0) + 1
                    socks[i] = kinds[i]()
            time.sleep(1.0)
    finally:
        for sock in socks:
            sock.close()


def test_slow_clients_do_not_starve_anyone_else(stack):
    counters: dict = {}
    until = time.monotonic() + HOLD_SECONDS
    holder = threading.Thread(target=_hold_slow_clients, args=(stack.port, until, counters))
    holder.start()
    try:
        time.sleep(1.0)  # every slow socket is open
        latencies: dict[str, list[float]] = {"/healthz": [], NEARBY: []}
        statuses = []
        while time.monotonic() < until - 0.5:
            for path, seen in latencies.items():
                reply, elapsed = timed(request, stack.http(timeout=5), "GET", path)
                statuses.append(reply.status)
                seen.append(elapsed)
            time.sleep(0.2)
    finally:
        holder.join()
    print(f"\nslow clients: {counters.get('opened')} sockets held {HOLD_SECONDS:.0f} s "
          f"(64 slow headers, 32 stalled bodies; {counters.get('reopened', 0)} reopened after "
          f"the front timed them out)")
    for path, seen in latencies.items():
        print(f"  {path.split('?')[0]}: {len(seen)} requests, p50 "
              f"{statistics.median(seen) * 1000:.1f} ms, max {max(seen) * 1000:.1f} ms")
    assert set(statuses) == {200}
    # Nobody waits on the slow sockets: 95% of the other client's requests within 1 s and
    # none over 3 s (a starved server would hold them for the front's 10 s timeouts).
    every = sorted(elapsed for seen in latencies.values() for elapsed in seen)
    assert every[int(len(every) * 0.95)] < 1.0 and every[-1] < 3.0


def test_the_fronts_added_latency(stack):
    n = int(os.environ.get("NEARBANK_LATENCY_N", "300"))
    a = stack.instances["a"]
    for path in ("/healthz", NEARBY):
        direct, front = [], []
        for _ in range(n):  # interleaved, so both see the same machine load
            direct.append(timed(request, a.http(), "GET", path)[1])
            front.append(timed(request, stack.http(), "GET", path)[1])
        p50 = statistics.median(direct) * 1000, statistics.median(front) * 1000
        mean = statistics.fmean(direct) * 1000, statistics.fmean(front) * 1000
        print(f"\n{path.split('?')[0]}, {n} requests each, interleaved, a new connection each: "
              f"straight to gunicorn's socket p50 {p50[0]:.2f} ms (mean {mean[0]:.2f}), through "
              f"nginx p50 {p50[1]:.2f} ms (mean {mean[1]:.2f}): the front adds "
              f"{p50[1] - p50[0]:.2f} ms at the median")
        assert len(front) == len(direct) == n


def test_a_dead_upstream_is_a_502_problem(stack):
    front = stack.start_front("dead", [stack.var / "run" / "nothing-here.sock"])
    try:
        with socket.create_connection(("127.0.0.1", front.port)):
            pass
        import http.client

        reply = request(http.client.HTTPConnection("127.0.0.1", front.port, timeout=10),
                        "GET", "/healthz")
        assert reply.status == 502
        assert reply.headers["content-type"] == "application/problem+json"
        assert reply.headers["retry-after"] == "5"
        assert reply.json()["status"] == 502
    finally:
        stack.stop_front("dead")


def test_tls_with_hsts(stack, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    front = stack.start_front("tls", [stack.instances["a"].socket], tls_cert=cert, tls_key=key)
    try:
        import http.client

        context = ssl.create_default_context(cafile=str(cert))
        reply = request(http.client.HTTPSConnection("127.0.0.1", front.port, timeout=10,
                                                    context=context), "GET", NEARBY)
        assert reply.status == 200
        assert reply.headers["strict-transport-security"].startswith("max-age=31536000")
        # Plain HTTP on the TLS port is refused.
        plain = _raw(front.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert plain.startswith(b"HTTP/1.1 400")
    finally:
        stack.stop_front("tls")


def test_behind_a_balancer_the_client_is_its_forwarded_address_and_logged_as_a_network(stack):
    front = stack.start_front("balanced", [stack.instances["a"].socket],
                              trusted_proxies=["127.0.0.1"])
    try:
        import http.client

        clients = {"198.51.100.77": "198.51.100.0/24", "2001:db8:abcd:12::1": "2001:db8:abcd::/48",
                   "2001:db8::5": "2001:db8::/48", "::ffff:203.0.113.9": "203.0.113.0/24"}
        for address in clients:
            reply = request(http.client.HTTPConnection("127.0.0.1", front.port, timeout=10),
                            "GET", NEARBY, headers={"X-Forwarded-For": address})
            assert reply.status == 200
        # The app sees the balancer's client: its own login count, not the balancer's.
        body = {"email": "nobody@example.com", "password": "wrong password"}
        statuses = [request(http.client.HTTPConnection("127.0.0.1", front.port, timeout=10),
                            "POST", "/api/v1/auth/login", body=body,
                            headers={"X-Forwarded-For": f"198.51.100.{i}"}).status
                    for i in range(1, 13)]
        assert statuses == [401] * 12
    finally:
        stack.stop_front("balanced")
    log = (front.folder / "access.log").read_text()
    for address, network in clients.items():
        assert f"{network} [" in log, (network, log)
        assert address not in log
    assert LAT not in log and "?" not in log


def test_a_duplicate_key_leaves_no_personal_data_in_the_database_log(stack):
    url = stack.cluster.url.replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as conn, \
            pytest.raises(psycopg.errors.UniqueViolation) as raised:
        conn.execute("INSERT INTO users (public_id, email, password_hash, role) "
                     "SELECT gen_random_uuid(), email, password_hash, role FROM users "
                     "WHERE email = %s", ("holder@example.com",))
    # The client gets the detail; the server's log does not.
    assert "holder@example.com" in str(raised.value.diag.message_detail)
    log = stack.cluster.datadir.parent / (stack.cluster.datadir.name + ".log")
    text = log.read_text()
    assert "duplicate key value violates unique constraint" in text
    assert "holder@example.com" not in text
