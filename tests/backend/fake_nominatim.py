"""A fake Nominatim on loopback: the machines are offline, and geopy must talk to something real."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FOUND = {"lat": "51.5136", "lon": "-0.134", "display_name": "10, Dean Street, Soho, London"}


@dataclass
class Request:
    """One request the fake Nominatim received."""

    path: str
    query: dict[str, list[str]]
    user_agent: str | None
    at: float = field(default_factory=time.monotonic)


class FakeNominatim(ThreadingHTTPServer):
    """Answers /search: nothing for queries containing "nowhere", HTTP 500 for "boom"."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), NominatimHandler)
        self.requests: list[Request] = []

    @property
    def domain(self) -> str:
        """host:port to configure as GEOCODER_DOMAIN."""
        host, port = self.server_address[:2]
        return f"{host}:{port}"


class NominatimHandler(BaseHTTPRequestHandler):
    """The fake's request handler."""

    server: FakeNominatim

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        """Answer a search like Nominatim's format=json."""
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.server.requests.append(Request(url.path, query, self.headers.get("User-Agent")))
        text = " ".join(query.get("q", [])).lower()
        if url.path != "/search" or "boom" in text:
            self._send(500, {"error": "internal error"})
        elif "nowhere" in text:
            self._send(200, [])
        else:
            self._send(200, [{"place_id": 1, **FOUND}])

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
        """Keep the test output quiet."""


def settings(domain: str, delay: float = 0.0) -> dict[str, object]:
    """App settings pointing the geocoder at `domain` over plain HTTP."""
    return {"GEOCODER_DOMAIN": domain, "GEOCODER_SCHEME": "http",
            "GEOCODER_USER_AGENT": "nearbank-test", "GEOCODER_MIN_DELAY_SECONDS": delay,
            "GEOCODER_TIMEOUT_SECONDS": 2}


def serve() -> FakeNominatim:
    """Start a fake Nominatim on a free loopback port, served from a thread."""
    server = FakeNominatim()
    # A short poll interval: shutdown() waits for the loop's next poll.
    server.thread = threading.Thread(target=server.serve_forever,
                                     kwargs={"poll_interval": 0.01}, daemon=True)
    server.thread.start()
    return server


def stop(server: FakeNominatim) -> None:
    """Stop a fake started by serve()."""
    server.shutdown()
    server.server_close()
    server.thread.join()
