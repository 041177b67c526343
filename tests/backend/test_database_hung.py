"""A database host that accepts connections and never answers: 503 after the connect timeout.

The app runs in a child process: `backend.extensions.db` is one engine per process, and this
app's engine points at the silent listener.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import json, sys, time
from backend import config, create_app
app = create_app(config.TestConfig(sys.argv[1]))
client = app.test_client()
started = time.perf_counter()
response = client.get("/api/v1/branches/nearby?lat=51.5&lon=-0.1")
elapsed = time.perf_counter() - started
ready = client.get("/readyz")
print(json.dumps({"status": response.status_code, "type": response.content_type,
                  "retry_after": response.headers.get("Retry-After"),
                  "ready": ready.status_code, "elapsed": elapsed}))
"""


def test_unanswering_database_is_503_after_the_connect_timeout(capsys):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_say_nothing() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept_and_say_nothing, daemon=True)
    thread.start()
    try:
        child = subprocess.run(
            [sys.executable, "-c", CHILD, f"postgresql://nobody@127.0.0.1:{port}/nearbank"],
            cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()
    assert child.returncode == 0, child.stderr
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["status"] == 503 and int(result["retry_after"]) > 0
    assert result["type"] == "application/problem+json"
    assert result["ready"] == 503
    assert accepted, "the app never tried the database"
    # DB_CONNECT_TIMEOUT is 1 s, which psycopg (like libpq) raises to its 2 s minimum; the
    # bound here only catches a hang. A stopped database (refused) is answered at once.
    assert result["elapsed"] < 10
    # One line in the log for the failure, without the exception's text.
    assert child.stderr.count("database unavailable") == 1 and "Traceback" not in child.stderr
    with capsys.disabled():
        print(f"\nunanswering database: 503 after {result['elapsed'] * 1000:.0f} ms")
