"""`make run` as a user meets it: start, wait until ready, the README's curl calls, stop, again."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from backend.pgcluster import destroy_cluster, free_port
from backend.rediscluster import stop_redis

ROOT = Path(__file__).resolve().parent.parent
PRIVATE_SETTINGS = ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "JWT_SECRET_KEY", "BIND")


def _walkthrough() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- walkthrough:start -->\n```sh\n(.*?)```\n<!-- walkthrough:end -->",
                      readme, re.S)
    assert block, "README.md has no walkthrough block"
    return block.group(1)


def _start(var: Path, port: int) -> subprocess.Popen:
    env = _env(var)
    env.update(PORT=str(port), WEB_CONCURRENCY="1", WEB_THREADS="2")
    return subprocess.Popen([sys.executable, "-m", "backend.serve"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _env(var: Path) -> dict[str, str]:
    """The environment of a user who has only the checkout (and `make run`'s var/)."""
    env = {k: v for k, v in os.environ.items() if k not in PRIVATE_SETTINGS}
    env["NEARBANK_VAR"] = str(var)
    return env


def _run(var: Path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(command), cwd=ROOT, env=_env(var), capture_output=True,
                          text=True, timeout=120)


def _wait_ready(proc: subprocess.Popen, port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early:\n{proc.stdout.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise AssertionError("server did not become ready")


def _stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    return output


@pytest.fixture
def scratch(tmp_path_factory):
    var = tmp_path_factory.mktemp("make-run")
    yield var
    stop_redis(var / "redis")
    destroy_cluster(var / "pgdata")


def test_make_run_serves_the_readme_walkthrough_and_second_run_reuses(scratch):
    port = free_port()
    server = _start(scratch, port)
    try:
        _wait_ready(server, port)
        script = _walkthrough().replace("localhost:8000", f"127.0.0.1:{port}")
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 0, run.stderr
    finally:
        first = _stop(server)

    documents = [json.loads(line) for line in _json_lines(run.stdout)]
    assert documents[0]["role"] == "cardholder" and documents[0]["card_tier"] == "platinum"
    branches, open_now, repay = documents[1], documents[2], documents[3]
    assert branches["type"] == open_now["type"] == repay["type"] == "FeatureCollection"
    # Every step answers something whatever the hour the suite runs at.
    assert branches["count"] == 3
    assert all(f["properties"]["kind"] == "branch" and "next_change" in f["properties"]
               and isinstance(f["properties"]["open_now"], bool) for f in branches["features"])
    assert open_now["count"] >= 1
    assert all(f["properties"]["open_now"] is True for f in open_now["features"])
    assert repay["count"] >= 1
    assert all("cash" in f["properties"]["repayment"]["methods"] and f["properties"]["open_now"]
               for f in repay["features"])
    # Live waits from the queue simulator, the soonest-served order with its reasons, a ticket.
    assert all(f["properties"]["queue"]["source"] == "live"
               and f["properties"]["queue"]["estimated_wait_min"] is not None
               for f in branches["features"])
    soonest, mine, cancelled = documents[4:7]
    assert soonest["count"] == 3
    assert soonest["order"]["by"] == "soonest_served"
    assert all(f["properties"]["soonest_served"]["why"] for f in soonest["features"])
    ticket = mine["tickets"][0]
    assert ticket["label"].startswith("C") and ticket["status"] == "waiting"
    assert cancelled["id"] == ticket["id"] and cancelled["status"] == "cancelled"

    assert "sample data data/branches/sample.csv: loaded: 400 inserted" in first
    assert "cardholder@example.com" in first
    # The access log shows the paths, never the coordinates of the query.
    assert '"GET /api/v1/branches/nearby"' in first
    for secret in ("51.5133", "-0.0890", "103.8514", "lat=", "lon="):
        assert secret not in first

    # The operators' commands find the private services by themselves, as printed in README.
    flask = str(Path(sys.executable).with_name("flask"))
    listing = _run(scratch, flask, "--help")
    assert listing.returncode == 0, listing.stderr
    for group in ("db", "users", "places", "uploads", "queue"):
        assert re.search(rf"^  {group} ", listing.stdout, re.M), listing.stdout
    created = _run(scratch, flask, "users", "create", "--email", "ops@example.com", "--role",
                   "maintainer", "--password", "a long enough password 1")
    assert created.returncode == 0, created.stderr
    loaded = _run(scratch, flask, "places", "load", "--if-empty",
                  str(ROOT / "data" / "branches" / "sample.csv"))
    assert loaded.returncode == 0 and "places exist already" in loaded.stdout, loaded.stderr

    # Every file and folder under var/ is for our user alone (the secret was created so).
    loose = [f"{oct(stat.S_IMODE(p.lstat().st_mode))} {p}" for p in [scratch, *scratch.rglob("*")]
             if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077]
    assert loose == []
    assert stat.S_IMODE((scratch / "jwt-secret").stat().st_mode) == 0o600

    second = _start(scratch, port)
    try:
        _wait_ready(second, port)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/places?"
                                    "bbox=-180,-90,180,90&limit=500") as response:
            assert json.load(response)["count"] == 398  # 400 less two decommissioned
    finally:
        again = _stop(second)
    assert "places exist already; sample data not loaded again" in again
    assert "loaded:" not in again

    # `make stop` stops what is left (Redis, PostgreSQL); `make clean` removes it all.
    stopped = _run(scratch, sys.executable, "-m", "backend.serve", "stop")
    assert "stopped: Redis, PostgreSQL" in stopped.stdout, stopped.stdout + stopped.stderr
    assert not (scratch / "redis" / "redis.sock").exists()
    cleaned = _run(scratch, sys.executable, "-m", "backend.serve", "clean")
    assert cleaned.returncode == 0, cleaned.stderr
    assert not scratch.exists()


def _json_lines(output: str):
    decoder = json.JSONDecoder()
    index = 0
    while index < len(output):
        if output[index].isspace():
            index += 1
            continue
        document, index = decoder.raw_decode(output, index)
        yield json.dumps(document)
