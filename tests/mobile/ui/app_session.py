"""Test-only: one session of the app as shipped (its own Kivy set-up, Kivy's log file on at
debug level), signed in, searching, on the map, on a place and asking for offers, then quitting.

`python -m tests.mobile.ui.app_session --api URL --tiles URL --data-dir DIR --email E
--password P`; run by test_logs.py with KIVY_HOME pointing at a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import time


def main() -> None:
    """Drive the app through a session with the UI's own event loop, then stop it."""
    parser = argparse.ArgumentParser()
    for name in ("--api", "--tiles", "--data-dir", "--email", "--password", "--place"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    from mobile.__main__ import configure_kivy

    configure_kivy("420x860")
    from kivy.clock import Clock
    from kivy.config import Config
    from kivy.logger import Logger

    Config.set("kivy", "log_level", "debug")
    Logger.setLevel("DEBUG")
    from mobile.core.location import parse_location
    from mobile.ui.app import NearbankApp

    app = NearbankApp(api_url=args.api, data_dir=args.data_dir, tile_url=args.tiles)
    lat, lon = parse_location(args.place)
    app.initial_place = (lat, lon, args.place)
    deadline = time.monotonic() + 60
    steps = [
        (lambda: True, lambda: app.core.session.sign_in(args.email, args.password)),
        (lambda: app.root.screens["nearby"].rows, lambda: app.go("map")),
        (lambda: app.core.tiles.loaded > 0,
         lambda: (app.core.detail.open(app.core.nearby.state.places[0]), app.go("detail"))),
        (lambda: app.core.detail.state.detail is not None,
         lambda: (app.go("offers"), app.core.offers.show_offers_near_me())),
        (lambda: app.core.offers.state.phase != "loading", lambda: None),
    ]

    def tick(_dt: float) -> None:
        if time.monotonic() > deadline:
            Logger.error("app_session: gave up waiting")
            app.stop()
            sys.exit(1)
        if not steps:
            app.stop()
            return
        ready, action = steps[0]
        if ready():
            steps.pop(0)
            action()
        Clock.schedule_once(tick, 0.1)

    Clock.schedule_once(tick, 0.5)
    app.run()


if __name__ == "__main__":
    main()
