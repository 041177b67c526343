"""No position on the device's disk: after a whole session of the app as shipped, Kivy's log
folder holds no request URL, coordinate or tile address."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import ROOT
from tests.mobile.conftest import BANK


def test_a_session_leaves_no_position_in_the_log_folder(xvfb_display, backend, cardholder,
                                                        tile_server, tmp_path):
    backend.set_consent(cardholder, True)  # with promotions off no offers request is sent
    home = tmp_path / "kivy-home"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KIVY_") or k == "KIVY_METRICS_DENSITY"}
    env.update(DISPLAY=xvfb_display, KIVY_HOME=str(home), KIVY_NO_ARGS="1")
    done = subprocess.run(
        [sys.executable, "-m", "tests.mobile.ui.app_session", "--api", backend.url,
         "--tiles", tile_server.url, "--data-dir", str(tmp_path / "data"),
         "--email", cardholder[0], "--password", cardholder[1],
         "--place", f"{BANK[0]}, {BANK[1]}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    # The session did what it should: searched, drew tiles, opened a place, asked for offers.
    paths = backend.paths()
    assert "/api/v1/branches/nearby" in paths and "/api/v1/offers/nearby" in paths
    assert any(p.startswith("/api/v1/places/") for p in paths)
    logs = sorted((home / "logs").glob("*"))
    assert logs, "Kivy's log file was not written"
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)
    assert "[INFO" in text or "[DEBUG" in text  # a real log, written at debug level
    for leak in ("lat=", "lon=", "/nearby?", f"{BANK[0]}", "51.51", "-0.08", "-0.09"):
        assert leak not in text, f"{leak!r} in the log"
    assert not re.search(r"/\d{1,2}/\d+/\d+\.png", text), "a tile address in the log"
    # What the console showed is filtered the same way.
    assert "lat=" not in done.stderr and "51.51" not in done.stderr


def test_redaction_removes_queries_pairs_and_tile_paths():
    from mobile.core.logs import redact

    assert redact('GET /api/v1/branches/nearby?lat=51.513&lon=-0.089 HTTP/1.1') == (
        "GET /api/v1/branches/nearby?[redacted] HTTP/1.1")
    assert redact("place set to 51.5133, -0.0890 by hand") == "place set to [redacted] by hand"
    assert redact("GET /tiles/16/32741/21789.png") == "GET /tiles/[redacted]"
    assert redact("Loaded 20 places in 0.35 s") == "Loaded 20 places in 0.35 s"
