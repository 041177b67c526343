"""`make run` as a user meets it: start, wait until ready, the README's curl calls, stop, again."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from backend.pgcluster import destroy_cluster, free_port

ROOT = Path(__file__).resolve().parent.parent


def _walkthrough() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- walkthrough:start -->\n```sh\n(.*?)```\n<!-- walkthrough:end -->",
                      readme, re.S)
    assert block, "README.md has no walkthrough block"
    return block.group(1)


def _start(var: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "JWT_SECRET_KEY")}
    env.update(NEARBANK_VAR=str(var), PORT=str(port), WEB_CONCURRENCY="1", WEB_THREADS="2")
    return subprocess.Popen([sys.executable, "-m", "backend.serve"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


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

    assert "sample data data/branches/sample.csv: loaded: 400 inserted" in first
    assert "cardholder@example.com" in first
    # The access log shows the paths, never the coordinates of the query.
    assert '"GET /api/v1/branches/nearby"' in first
    for secret in ("51.5133", "-0.0890", "103.8514", "lat=", "lon="):
        assert secret not in first

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


def _json_lines(output: str):
    decoder = json.JSONDecoder()
    index = 0
    while index < len(output):
        if output[index].isspace():
            index += 1
            continue
        document, index = decoder.raw_decode(output, index)
        yield json.dumps(document)
