"""The docs page renders in a real browser (headless Chromium), under its strict CSP."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                  "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000"]


@pytest.fixture(scope="module")
def docs_url(app) -> Iterator[str]:
    """The app behind a real HTTP server on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/v1/docs"
    server.shutdown()
    thread.join(timeout=10)


def _chromium(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    assert binary, "Debian's chromium is missing: run `make system-deps`"
    with tempfile.TemporaryDirectory(prefix="nearbank-chromium-") as profile:
        return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=180, check=False)


def test_docs_page_headers(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    page = response.get_data(as_text=True)
    assert "<script>" not in page and "style=" not in page  # nothing inline to allow
    assert "http://" not in page and "https://" not in page  # no CDN
    asset = client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and asset.headers["X-Frame-Options"] == "DENY"
    asset.close()


def test_docs_page_lists_every_operation_in_chromium(client, docs_url):
    spec = client.get("/api/v1/openapi.json").json
    operations = {(method, path) for path, item in spec["paths"].items()
                  for method in item if method in ("get", "put", "post", "patch", "delete")}
    run = _chromium("--dump-dom", docs_url)
    assert run.returncode == 0, run.stderr[-2000:]
    dom = run.stdout
    assert "Unable to render" not in dom
    assert 'class="version"' in dom and "OAS 3.1" in dom
    shown = set(re.findall(r'id="operations-[^"]*".*?opblock-summary-method">(\w+)<.*?'
                           r'data-path="([^"]+)"', dom))
    shown = {(method.lower(), path) for method, path in shown}
    assert shown == operations, operations ^ shown
    # The policy blocked nothing the page needs: Chromium logs each violation on the console.
    violations = [line for line in run.stderr.splitlines()
                  if "CONSOLE" in line and "Content Security Policy" in line]
    assert not violations, violations


def test_docs_page_screenshot(docs_url, tmp_path: Path):
    """A picture of the rendered page, written to a temporary folder only."""
    shot = tmp_path / "api-docs.png"
    run = _chromium("--window-size=1280,1800", f"--screenshot={shot}", docs_url)
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000  # a blank page is a few kB
