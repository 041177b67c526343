"""The street map without kivy: Web Mercator tiles, what a view needs, and marker clusters.

Tiles are the usual 256-pixel "slippy map" tiles (`{z}/{x}/{y}.png`, y from the north) from a
configured server: OpenStreetMap's on a phone, the bank's own tile server in production. They
are fetched into memory only: a tile cache on disk would record where the cardholder looked.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import requests

from mobile.core import errors
from mobile.core.models import Place
from mobile.core.runner import Outcome, Runner

TILE = 256
MIN_ZOOM, MAX_ZOOM = 3, 19
DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
MAX_LAT = 85.05112878


def world_xy(lat: float, lon: float, zoom: float) -> tuple[float, float]:
    """A position in world pixels at `zoom` (x east from 180°W, y south from the top)."""
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    size = TILE * 2 ** zoom
    x = (lon + 180.0) / 360.0 * size
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * size
    return x, y


def lat_lon(x: float, y: float, zoom: float) -> tuple[float, float]:
    """The inverse of `world_xy`."""
    size = TILE * 2 ** zoom
    lon = x / size * 360.0 - 180.0
    n = math.pi - 2 * math.pi * y / size
    return math.degrees(math.atan(math.sinh(n))), lon


@dataclass(frozen=True)
class TileKey:
    """One tile: zoom, column, row."""

    z: int
    x: int
    y: int


def visible_tiles(lat: float, lon: float, zoom: int, width: float,
                  height: float) -> list[TileKey]:
    """The tiles a `width` × `height` pixel view centred on (lat, lon) shows, centre first."""
    cx, cy = world_xy(lat, lon, zoom)
    count = 2 ** zoom
    x0, x1 = math.floor((cx - width / 2) / TILE), math.floor((cx + width / 2) / TILE)
    y0, y1 = math.floor((cy - height / 2) / TILE), math.floor((cy + height / 2) / TILE)
    keys = [TileKey(zoom, x % count, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)
            if 0 <= y < count]
    centre = (cx / TILE, cy / TILE)
    return sorted(set(keys), key=lambda k: (k.x + 0.5 - centre[0]) ** 2
                  + (k.y + 0.5 - centre[1]) ** 2)


def fit_zoom(lat: float, lon: float, places: Sequence[Place], width: float, height: float,
             margin: float = 48.0, default: int = 16) -> int:
    """The closest zoom at which every place fits in the view around (lat, lon)."""
    if not places:
        return default
    for zoom in range(MAX_ZOOM - 2, MIN_ZOOM - 1, -1):
        cx, cy = world_xy(lat, lon, zoom)
        if all(abs(px - cx) <= width / 2 - margin and abs(py - cy) <= height / 2 - margin
               for px, py in (world_xy(p.lat, p.lon, zoom) for p in places)):
            return zoom
    return MIN_ZOOM


@dataclass(frozen=True)
class Cluster:
    """Places drawn as one marker: their count at the first (nearest) one's position."""

    places: tuple[Place, ...]
    x: float  # world pixels at the zoom it was made for
    y: float

    @property
    def single(self) -> Place | None:
        """The place, when the marker stands for only one."""
        return self.places[0] if len(self.places) == 1 else None


def cluster(places: Iterable[Place], zoom: int, spacing: float) -> list[Cluster]:
    """Group places whose markers would be closer than `spacing` pixels (a finger's width):
    nearest first, each place joins the first marker it would touch. Markers of the result
    are at least `spacing` apart, so none hides another and each is a full touch target."""
    groups: list[tuple[float, float, list[Place]]] = []
    for place in places:
        x, y = world_xy(place.lat, place.lon, zoom)
        for gx, gy, members in groups:
            if math.hypot(gx - x, gy - y) < spacing:
                members.append(place)
                break
        else:
            groups.append((x, y, [place]))
    return [Cluster(tuple(members), x, y) for x, y, members in groups]


class TileSource:
    """Fetches tiles by URL template on a runner and keeps the recent ones in memory."""

    def __init__(self, url: str, runner: Runner, *, capacity: int = 160,
                 timeout: tuple[float, float] = (3.05, 10.0),
                 session: requests.Session | None = None) -> None:
        self.url = url
        self.runner = runner
        self.capacity = capacity
        self.timeout = timeout
        self._tiles: OrderedDict[TileKey, bytes] = OrderedDict()
        self._pending: set[TileKey] = set()
        self.failed = 0
        self.loaded = 0
        self._closed = False
        self._http = session or requests.Session()
        self._http.headers["User-Agent"] = "Nearbank-app/0.1"  # tile servers ask for one

    def get(self, key: TileKey) -> bytes | None:
        """A tile already in memory, or None."""
        data = self._tiles.get(key)
        if data is not None:
            self._tiles.move_to_end(key)
        return data

    def request(self, key: TileKey, done: Callable[[TileKey, bytes | None], None]) -> None:
        """Fetch a tile unless held or on its way; `done(key, data or None)` on the UI thread."""
        if key in self._tiles or key in self._pending:
            return
        if self._closed:
            return
        self._pending.add(key)
        url = self.url.format(z=key.z, x=key.x, y=key.y)
        self.runner.submit(lambda: self._fetch(url),
                           lambda outcome: self._fetched(key, outcome, done))

    def _fetch(self, url: str) -> bytes:
        try:
            response = self._http.get(url, timeout=self.timeout)
        except requests.RequestException as exc:
            raise errors.Offline("The tile server cannot be reached.") from exc
        if response.status_code != 200 or not response.content:
            raise errors.ServerError(f"tile server answered {response.status_code}",
                                     response.status_code)
        return response.content

    def _fetched(self, key: TileKey, outcome: Outcome[bytes],
                 done: Callable[[TileKey, bytes | None], None]) -> None:
        self._pending.discard(key)
        if outcome.value is None:
            self.failed += 1
            done(key, None)
            return
        self.loaded += 1
        self._tiles[key] = outcome.value
        while len(self._tiles) > self.capacity:
            self._tiles.popitem(last=False)
        done(key, outcome.value)

    def close(self) -> None:
        """Release the connections; later requests are ignored."""
        self._closed = True
        self._http.close()
