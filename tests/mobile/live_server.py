"""Test-only: the real Flask app on a loopback port, in its own process, with a request log.

`python -m tests.mobile.live_server --database-url URL --port N --log FILE [--redis-url U]`.
The harness around the app records each request (method, path, query, Accept-Language) as a
JSON line in FILE and offers test controls under /__test__/ (faults to inject, expired tokens);
none of this is product code. Place search answers from a fake Nominatim in the same process.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from backend import create_app
from backend.config import TestConfig
from tests.backend.fake_nominatim import serve as serve_nominatim
from tests.backend.fake_nominatim import settings as nominatim_settings


class Harness:
    """WSGI middleware: request log, injected faults and token tricks for the tests."""

    def __init__(self, app: Any, log_path: str, secret: str) -> None:
        self.app = app
        self.log_path = log_path
        self.secret = secret
        self.faults: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/__test__/"):
            return self.control(Request(environ))(environ, start_response)
        if environ.get("HTTP_X_TEST_CLIENT"):  # the tests' own set-up calls: not the app's
            return self.app(environ, start_response)
        entry = {"method": environ.get("REQUEST_METHOD"), "path": path,
                 "query": environ.get("QUERY_STRING", ""),
                 "auth": bool(environ.get("HTTP_AUTHORIZATION")),
                 "language": environ.get("HTTP_ACCEPT_LANGUAGE")}
        with self.lock:
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps(entry) + "\n")
            fault = next((f for f in self.faults if path.startswith(f["path"])), None)
            if fault is not None:
                fault["times"] -= 1
                if fault["times"] <= 0:
                    self.faults.remove(fault)
        if fault is not None:
            if fault.get("delay"):
                time.sleep(fault["delay"])
            response = Response(fault.get("body", ""), status=fault.get("status", 200),
                                content_type=fault.get("content_type", "application/json"))
            return response(environ, start_response)
        return self.app(environ, start_response)

    def control(self, request: Request) -> Response:
        action = request.path.removeprefix("/__test__/")
        body = request.get_json(silent=True) or {}
        if action == "ping":
            return Response("pong")
        if action == "fault":
            with self.lock:
                self.faults.append({**body, "times": body.get("times", 1)})
            return Response(status=204)
        if action == "reset":
            with self.lock:
                self.faults.clear()
            return Response(status=204)
        if action == "expire":
            # The same token, signed with the same key, but whose lifetime ended a minute ago.
            claims = jwt.decode(body["token"], self.secret, algorithms=["HS256"])
            past = datetime.now(UTC) - timedelta(minutes=1)
            claims["exp"] = int(past.timestamp())
            claims["iat"] = claims["nbf"] = int((past - timedelta(minutes=5)).timestamp())
            token = jwt.encode(claims, self.secret, algorithm="HS256")
            return Response(json.dumps({"token": token}), content_type="application/json")
        return Response(status=404)


def main() -> None:
    """Serve until terminated."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    config = TestConfig(args.database_url, args.redis_url)
    # Place search answers from a fake Nominatim on loopback, in this process.
    nominatim = serve_nominatim()
    for key, value in nominatim_settings(nominatim.domain).items():
        setattr(config, key, value)
    app = create_app(config)
    server = make_server("127.0.0.1", args.port, Harness(app, args.log, config.JWT_SECRET_KEY),
                         threaded=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
