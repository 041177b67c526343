"""Test-only: a slippy-map tile server on loopback that draws each tile it is asked for.

Tiles are generated PNGs (a street grid tinted by the tile's column and row), made with zlib
alone; every request is recorded so tests can check which zoom and area the app asked for.
"""

from __future__ import annotations

import re
import struct
import threading
import zlib
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TILE_PATH = re.compile(r"^/tiles/(\d+)/(\d+)/(\d+)\.png$")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


@lru_cache(maxsize=256)
def tile_png(z: int, x: int, y: int, size: int = 256) -> bytes:
    """A 256-pixel RGB PNG: pale blocks, white streets every 64 px, tinted per tile."""
    tint = (x * 37 + y * 91 + z * 13) % 24
    block = bytes((232 - tint, 236, 226 + tint // 2))
    street = b"\xff\xff\xff"
    rows = []
    for row in range(size):
        if row % 64 < 6:
            line = street * size
        else:
            line = b"".join(street if col % 64 < 6 else block for col in range(0, size, 2)
                            for _ in (0, 1))
        rows.append(b"\x00" + line)
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + _chunk(b"IEND", b""))


class TileServer:
    """Serves /tiles/{z}/{x}/{y}.png on 127.0.0.1; `failing` makes every tile a 503."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, int, int]] = []
        self.failing = False
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                match = TILE_PATH.match(self.path)
                if match is None:
                    self.send_error(404)
                    return
                z, x, y = (int(g) for g in match.groups())
                with server._lock:
                    server.requests.append((z, x, y))
                    failing = server.failing
                if failing:
                    self.send_error(503)
                    return
                body = tile_png(z, x, y)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args) -> None:  # quiet: tests read `requests`
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/tiles/{{z}}/{{x}}/{{y}}.png"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def clear(self) -> list[tuple[int, int, int]]:
        """Forget (and return) the requests so far."""
        with self._lock:
            seen, self.requests = self.requests, []
            return seen

    def close(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()
