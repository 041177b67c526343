"""`python -m mobile --api URL`: start the cardholder's app against a Nearbank backend."""

from __future__ import annotations

import argparse
import os


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m mobile", description=__doc__)
    parser.add_argument("--api", default=os.environ.get("NEARBANK_API", "http://127.0.0.1:8000"),
                        help="the backend's base URL (default %(default)s)")
    parser.add_argument("--data-dir", default=None,
                        help="where settings, the session and the cache live "
                             "(default: the platform's user data folder)")
    parser.add_argument("--place", default=None,
                        help='the place to search from on a desktop, in any common notation '
                             '(e.g. "51.5133, -0.0890"); remembered in the settings')
    parser.add_argument("--tiles", default=os.environ.get("NEARBANK_TILES"),
                        help="the street map's tile URL template, {z}/{x}/{y} "
                             "(default: OpenStreetMap's)")
    parser.add_argument("--size", default="420x860",
                        help="window size on a desktop, WIDTHxHEIGHT (default %(default)s)")
    return parser.parse_args(argv)


def configure_kivy(size: str = "420x860") -> None:
    """Set Kivy up before it opens a window: our arguments, window size, and a log without
    positions (HTTP request lines are quieted and every handler redacts coordinates)."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")  # our arguments are not Kivy's
    from kivy.config import Config

    from mobile.core import logs

    logs.install()
    Config.set("kivy", "log_maxfiles", "10")
    width, _, height = size.partition("x")
    Config.set("graphics", "width", width)
    Config.set("graphics", "height", height)
    Config.set("input", "mouse", "mouse,disable_multitouch")


def main(argv: list[str] | None = None) -> None:
    """Configure Kivy (before it creates a window), then run the app."""
    args = parse_args(argv)
    configure_kivy(args.size)
    from mobile.core.location import LocationParseError, parse_location
    from mobile.ui.app import NearbankApp

    app = NearbankApp(api_url=args.api, data_dir=args.data_dir, tile_url=args.tiles)
    if args.place:
        try:
            lat, lon = parse_location(args.place)
        except LocationParseError:
            raise SystemExit(f"--place: not a position: {args.place!r}") from None
        app.initial_place = (lat, lon, args.place)
    app.run()


if __name__ == "__main__":
    main()
