"""gunicorn on loopback, set up as `make run` does, driven by wrk."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.pgcluster import free_port
from bench.stats import Latency, child_pids, machine_cpu, proc_cpu_seconds, vm_hwm_kib

ROOT = Path(__file__).resolve().parent.parent
WRK_SCRIPT = Path(__file__).resolve().with_name("wrk_paths.lua")


class Gunicorn:
    """`gunicorn --config python:backend.gunicorn_conf backend.wsgi:app` in its own session."""

    def __init__(self, database_url: str, workers: int, threads: int, log_path: Path,
                 via_front: bool = False, app: str = "backend.wsgi:app") -> None:
        self.database_url, self.workers, self.threads = database_url, workers, threads
        self.app = app  # the WSGI app: Nearbank's, or bench.minimal's reference
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # With via_front, `port` is nginx's (as `make run` serves) and gunicorn stays on
        # `gunicorn_port`; the figures then include the front's cost.
        self.via_front = via_front
        self.gunicorn_port = self.port
        self.front: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Gunicorn:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        """Start gunicorn and wait until every worker is up and /healthz answers."""
        env = dict(os.environ)
        env.pop("BIND", None)  # the config prefers BIND over PORT
        env.update(DATABASE_URL=self.database_url, JWT_SECRET_KEY=secrets.token_urlsafe(48),
                   PORT=str(self.port), ACCESS_LOG="/dev/null",
                   WEB_CONCURRENCY=str(self.workers), WEB_THREADS=str(self.threads))
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [gunicorn, "--config", "python:backend.gunicorn_conf", self.app],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; "
                                   f"see {self.log_path}")
            if len(self.worker_pids()) == self.workers and self._healthy():
                if self.via_front:
                    self._start_front()
                return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not come up in {timeout:.0f}s; see {self.log_path}")

    def _start_front(self) -> None:
        from backend.frontproxy import FrontSettings, start_front

        settings = FrontSettings(folder=self.log_path.parent / "front", port=free_port(),
                                 upstreams=[f"127.0.0.1:{self.gunicorn_port}"])
        self.front = start_front(settings)
        self.port = settings.port

    def _healthy(self) -> bool:
        try:
            status, _ = get_json(self.port, "/healthz", timeout=2.0)
        except OSError:
            return False
        return status == 200

    def worker_pids(self) -> list[int]:
        """The worker processes (children of the gunicorn master)."""
        return child_pids(self.process.pid) if self.process else []

    def stop(self) -> None:
        """Stop the front, then SIGTERM gunicorn's process group, SIGKILL it if it lingers."""
        if self.front is not None:
            from backend.frontproxy import stop_front

            front, self.front = self.front, None
            stop_front(self.log_path.parent / "front", front)
            self.port = self.gunicorn_port
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)
            except ProcessLookupError:
                pass
        with contextlib.suppress(ProcessLookupError):  # workers of a master that died first
            os.killpg(process.pid, signal.SIGKILL)


def get_json(port: int, path: str, timeout: float = 30.0) -> tuple[int, Any]:
    """GET a path from 127.0.0.1:port; (status, parsed JSON body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    return response.status, json.loads(body) if body else None


def wrk_binary() -> str | None:
    """Path of wrk, or None when it is not installed."""
    return shutil.which("wrk")


@dataclass
class HttpRun:
    """A wrk run: latency from wrk, and the CPU each side spent."""

    latency: Latency
    errors: int
    duration_s: float
    worker_cpu_s: float
    worker_cpu_each_s: list[float]
    server_cpu_s: float | None
    client_cpu_s: float
    machine_busy_s: float
    machine_interrupt_s: float

    def per_request_us(self, seconds: float | None) -> float | None:
        """CPU seconds spread over the run's requests, in microseconds."""
        if seconds is None or not self.latency.count:
            return None
        return seconds / self.latency.count * 1e6


def run_wrk(port: int, paths_file: Path, duration: float, concurrency: int) -> dict[str, Any]:
    """One wrk run (one thread, `concurrency` keep-alive connections); its JSON summary."""
    wrk = wrk_binary()
    if wrk is None:
        raise RuntimeError("wrk is not installed: run bench/system-deps.sh (as root)")
    command = [wrk, "-t", "1", "-c", str(concurrency), "-d", f"{duration:g}s",
               "--timeout", "10s", "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}/",
               "--", str(paths_file)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60,
                            check=False)
    for line in result.stdout.splitlines():
        if line.startswith("WRK-JSON "):
            return json.loads(line[len("WRK-JSON "):])
    raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr.strip()[-500:]}")


def measure(server: Gunicorn, paths: Sequence[str], work_dir: Path, duration: float,
            concurrency: int, server_pids: Callable[[], list[int]] | None) -> HttpRun:
    """Drive the paths through wrk for `duration` seconds and account for the CPU used."""
    paths_file = work_dir / "wrk-paths.txt"
    paths_file.write_text("\n".join(paths) + "\n")
    workers = server.worker_pids()
    pg_before = {pid: proc_cpu_seconds(pid) for pid in server_pids()} if server_pids else {}
    worker_before = [proc_cpu_seconds(pid) or 0.0 for pid in workers]
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy_before, interrupt_before = machine_cpu()
    summary = run_wrk(server.port, paths_file, duration, concurrency)
    busy_after, interrupt_after = machine_cpu()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_each = [(proc_cpu_seconds(pid) or 0.0) - before
                   for pid, before in zip(workers, worker_before, strict=True)]
    server_cpu: float | None = 0.0 if server_pids else None
    for pid in server_pids() if server_pids else ():
        now = proc_cpu_seconds(pid)
        if now is None:
            server_cpu = None
            break
        server_cpu += now - (pg_before.get(pid) or 0.0)
    client_cpu = (children_after.ru_utime + children_after.ru_stime
                  - children_before.ru_utime - children_before.ru_stime)
    elapsed = summary["duration_us"] / 1e6
    errors = sum(summary[k] for k in ("connect_errors", "read_errors", "write_errors",
                                      "status_errors", "timeouts"))
    latency = Latency(summary["requests"], summary["p50_us"] / 1e3, summary["p99_us"] / 1e3,
                      summary["mean_us"] / 1e3, summary["requests"] / elapsed)
    return HttpRun(latency, errors, elapsed, sum(worker_each), worker_each, server_cpu,
                   client_cpu, busy_after - busy_before, interrupt_after - interrupt_before)


def worker_peak_memory_kib(server: Gunicorn) -> list[int]:
    """VmHWM of each gunicorn worker, KiB."""
    return [kib for pid in server.worker_pids() if (kib := vm_hwm_kib(pid)) is not None]
