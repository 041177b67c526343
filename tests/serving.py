"""Helpers of the serving-stack tests: a whole stack (PostgreSQL, Redis, gunicorn instances,
nginx) started by the same helpers as `make run`, and HTTP over TCP or a gunicorn Unix socket."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from backend.frontproxy import FrontSettings, start_front, stop_front
from backend.migrate import upgrade
from backend.pgcluster import Cluster, destroy_cluster, ensure_cluster, free_port
from backend.rediscluster import ensure_redis, stop_redis
from backend.serve import start_gunicorn

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CSV = ROOT / "data" / "branches" / "sample.csv"


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP to a gunicorn instance on its Unix socket (what only the front does in `make run`)."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def request(conn: http.client.HTTPConnection, method: str, path: str, body=None,
            headers: dict[str, str] | None = None) -> Reply:
    """One request on a fresh connection (closed afterwards)."""
    headers = dict(headers or {})
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()},
                     response.read())
    finally:
        conn.close()


@dataclass
class Instance:
    name: str
    proc: subprocess.Popen
    socket: Path
    env: dict[str, str]

    def http(self, timeout: float = 30.0) -> UnixHTTPConnection:
        return UnixHTTPConnection(self.socket, timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclass
class Stack:
    var: Path
    cluster: Cluster
    redis_url: str
    env: dict[str, str]
    instances: dict[str, Instance] = field(default_factory=dict)
    fronts: dict[str, tuple[FrontSettings, subprocess.Popen]] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return self.fronts["main"][0].port

    def http(self, timeout: float = 30.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def start_instance(self, name: str, **env: str) -> Instance:
        child_env = {**self.env, "ACCESS_LOG": str(self.var / "run" / f"{name}-access.log"),
                     **env}
        old_umask = os.umask(0o077)
        try:
            proc, sock = start_gunicorn(self.var / "run", child_env, name)
        finally:
            os.umask(old_umask)
        self.instances[name] = Instance(name, proc, sock, child_env)
        return self.instances[name]

    def start_front(self, name: str, upstreams: list[Path], **settings) -> FrontSettings:
        front = FrontSettings(folder=self.var / f"front-{name}", port=free_port(),
                              upstreams=upstreams, **settings)
        self.fronts[name] = (front, start_front(front))
        return front

    def stop_front(self, name: str) -> None:
        front, proc = self.fronts.pop(name)
        stop_front(front.folder, proc)

    def flask(self, *args: str) -> subprocess.CompletedProcess:
        """A `flask` command as an operator types it, from the checkout."""
        return subprocess.run([str(Path(sys.executable).with_name("flask")), *args], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=120)

    def close(self) -> None:
        for name in list(self.fronts):
            self.stop_front(name)
        for instance in self.instances.values():
            instance.stop()
        stop_redis(self.var / "redis")
        destroy_cluster(self.var / "pgdata")


def start_stack(var: Path, instances: tuple[str, ...] = ("a", "b"), **front) -> Stack:
    """PostgreSQL + Redis + gunicorn instances (1 worker each) + one nginx in front of them."""
    var.chmod(0o700)
    (var / "run").mkdir(mode=0o700, exist_ok=True)
    cluster = ensure_cluster(var / "pgdata", durable=False)
    upgrade(cluster.owner_url)
    redis_url = ensure_redis(var / "redis")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "BIND")}
    env.update(NEARBANK_VAR=str(var), DATABASE_URL=cluster.url,
               DATABASE_OWNER_URL=cluster.owner_url, REDIS_URL=redis_url,
               JWT_SECRET_KEY=secrets.token_urlsafe(48),
               WEB_CONCURRENCY="1", WEB_THREADS="4", PROXY_HOPS="1",
               AUTH_RATE_LIMIT="10 per minute;100 per hour")
    stack = Stack(var, cluster, redis_url, env)
    try:
        for name in instances:
            stack.start_instance(name)
        stack.start_front("main", [stack.instances[n].socket for n in instances], **front)
    except BaseException:
        stack.close()
        raise
    return stack


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started
