"""mobile/core stays plain Python, and nothing in the app fetches on a timer."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from mobile.core.models import Place
from mobile.core.radar import hit, project, ring_distance
from mobile.core.runner import InlineRunner, ThreadRunner

MOBILE = Path(__file__).resolve().parents[3] / "mobile"


def test_core_never_imports_kivy():
    for path in (MOBILE / "core").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "kivy" for n in names), path
    code = ("import sys, mobile.core.app_core, mobile.core.presenters; "
            "assert 'kivy' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=MOBILE.parent)


def test_nothing_in_the_app_runs_on_an_interval_but_the_ticket_screen():
    # The ticket screen alone refreshes on a clock, and only while on show (its on_leave
    # cancels it: tests/mobile/ui/test_ticket_screens.py proves no request follows leaving).
    ticket = MOBILE / "ui" / "ticket.py"
    for path in MOBILE.rglob("*"):
        if path.suffix in (".py", ".kv") and path != ticket:
            assert "schedule_interval" not in path.read_text(encoding="utf-8"), path
    source = ticket.read_text(encoding="utf-8")
    assert source.count("schedule_interval") == 1 and ".cancel()" in source


def _place(distance: float, bearing: float, name: str = "p") -> Place:
    return Place(id=name, kind="atm", name=name, brand=None, lat=0, lon=0, address=None,
                 status="active", timezone=None, services=(), accessibility=(),
                 distance_m=distance, bearing_deg=bearing, open_now=None, closes_soon=False,
                 next_change_at=None, next_change_kind=None, repayment=None, phone=None)


def test_radar_places_results_by_bearing_and_distance():
    places = [_place(100, 0, "north"), _place(400, 90, "east"), _place(450, 225, "sw")]
    ring = ring_distance(places)
    assert ring == 500
    markers = {m.place.name: m for m in project(places, ring, 200)}
    assert (round(markers["north"].dx), round(markers["north"].dy)) == (0, 40)
    assert (round(markers["east"].dx), round(markers["east"].dy)) == (160, 0)
    assert markers["sw"].dx < 0 and markers["sw"].dy < 0
    assert hit(list(markers.values()), 158, 3, tolerance=10).name == "east"
    assert hit(list(markers.values()), 100, 100, tolerance=10) is None
    assert ring_distance([]) == 50 and ring_distance([_place(70_000, 0)]) == 70_000


def test_thread_runner_works_off_the_calling_thread_and_posts_back():
    import threading

    posted = []
    runner = ThreadRunner(posted.append)
    seen = {}
    runner.submit(lambda: threading.current_thread().name, lambda o: seen.update(v=o.value))
    runner.shutdown()
    assert len(posted) == 1 and not seen  # delivered only when the UI loop runs the callback
    posted[0]()
    assert seen["v"].startswith("nearbank-io")
    inline = []
    InlineRunner().submit(lambda: 1 / 0, inline.append)
    assert isinstance(inline[0].error, ZeroDivisionError)


def test_android_packaging_entry_point_and_permissions():
    import configparser

    spec = configparser.ConfigParser()
    spec.read(MOBILE.parent / "buildozer.spec")
    app = spec["app"]
    assert app["source.dir"] == "mobile" and (MOBILE / "main.py").is_file()
    permissions = {p.strip() for p in app["android.permissions"].split(",")}
    assert {"INTERNET", "ACCESS_FINE_LOCATION", "ACCESS_COARSE_LOCATION"} <= permissions
    for package in ("kivy", "plyer", "requests", "geopy"):
        assert package in app["requirements"]
    # In the package, mobile/'s contents sit at the top level: main.py must still find `mobile`.
    result = subprocess.run([sys.executable, "main.py", "--help"], cwd=MOBILE,
                            capture_output=True, text=True, check=True)
    assert "--api" in result.stdout
