"""The live backend the app's tests talk to: a real server on loopback, its own database."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from backend.config import normalise_database_url
from backend.migrate import upgrade
from backend.pgcluster import free_port
from tests.conftest import PASSWORD, ROOT, SAMPLE_CSV

MOBILE_DB = "nearbank_mobile"
# Bank station in the City of London: the sample has dozens of places around it.
BANK = (51.5133, -0.0890)


@dataclass(frozen=True)
class LoggedRequest:
    """One request the backend received."""

    method: str
    path: str
    query: str
    auth: bool
    language: str | None = None


class LiveBackend:
    """The Flask app served by werkzeug in a subprocess; can be stopped and started mid-test."""

    def __init__(self, database_url: str, workdir: Path, redis_url: str | None = None) -> None:
        self.database_url = database_url
        self.redis_url = redis_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "requests.jsonl"
        self.out_path = workdir / "server.out"
        self.proc: subprocess.Popen | None = None
        self._users = itertools.count(1)
        self._engine = create_engine(normalise_database_url(database_url))
        self.queue_system: tuple[str, str] | None = None
        self.queue_branches: dict[str, str] = {}

    def start(self) -> None:
        """Start the server and wait until it answers."""
        if self.running:
            return
        self.log_path.touch()
        with open(self.out_path, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.mobile.live_server", "--database-url",
                 self.database_url, "--port", str(self.port), "--log", str(self.log_path),
                 *(["--redis-url", self.redis_url] if self.redis_url else [])],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                self._control("ping")
                return
            except (urllib.error.URLError, ConnectionError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the live backend did not start: "
                                       + self.out_path.read_text(errors="replace")[-2000:]
                                       ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server (the app then finds the backend unreachable)."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        """Stop the server and release the database engine."""
        self.stop()
        self._engine.dispose()

    # -- the request log -----------------------------------------------------------------------

    def requests(self) -> list[LoggedRequest]:
        """Every request since the last clear_log(), in order."""
        text = self.log_path.read_text(encoding="utf-8")
        # Whole lines only: the server may be writing the last one.
        lines = text[:text.rfind("\n") + 1].splitlines()
        return [LoggedRequest(**json.loads(line)) for line in lines if line]

    def paths(self) -> list[str]:
        """The paths of every request since the last clear_log()."""
        return [r.path for r in self.requests()]

    def clear_log(self) -> None:
        """Forget the requests logged so far."""
        self.log_path.write_text("", encoding="utf-8")

    # -- test controls -------------------------------------------------------------------------

    def _control(self, action: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body or {}).encode()
        request = urllib.request.Request(f"{self.url}/__test__/{action}", data=data,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = response.read()
        return json.loads(payload) if payload and action != "ping" else None

    def inject_fault(self, path: str, *, status: int = 200, body: str = "",
                     content_type: str = "application/json", times: int = 1,
                     delay: float = 0.0) -> None:
        """Answer the next `times` requests under `path` with this response instead."""
        self._control("fault", {"path": path, "status": status, "body": body,
                                "content_type": content_type, "times": times, "delay": delay})

    def reset_faults(self) -> None:
        """Drop faults not yet used."""
        self._control("reset")

    def expired(self, token: str) -> str:
        """The same token with a lifetime that has ended."""
        return self._control("expire", {"token": token})["token"]

    # -- data ----------------------------------------------------------------------------------

    def db(self) -> Session:
        """A session on the backend's database (commits are visible to the server)."""
        return Session(self._engine)

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        """A request to the API as a client (not logged as the app's); returns the JSON."""
        headers = {"X-Test-Client": "1"}  # the harness leaves these out of the request log
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = requests.request(method, f"{self.url}/api/v1{path}", headers=headers,
                                    timeout=20, **kwargs)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def login(self, email: str, password: str) -> str:
        """An access token for a user (these requests are left out of the app's log)."""
        return self.call("POST", "/auth/login", json={"email": email,
                                                       "password": password})["access_token"]

    def set_consent(self, user: tuple[str, str], promotions: bool,
                    categories: tuple[str, ...] = ("cafes", "dining")) -> None:
        """Turn a cardholder's promotions on or off, as if they had chosen it elsewhere."""
        token = self.login(*user)
        body = {"promotions_enabled": promotions,
                "categories": list(categories) if promotions else [], "channel": "web"}
        if promotions:  # saying yes names the notice shown
            body["policy_version"] = self.call("GET", "/privacy/notices/promotions")["version"]
        self.call("PUT", "/me/consent", token, json=body)

    def seed_offers(self) -> None:
        """Two verified merchants near Bank, with approved offers in cafés and dining."""
        reviewer = self.login(*self.make_user("reviewer"))
        now = datetime.now(UTC)
        merchants = (
            ("Bean There Coffee", "cafes", (-0.0886, 51.5140), "20% off any flat white",
             {"type": "percent_off", "percent": 20}),
            ("Threadneedle Kitchen", "dining", (-0.0871, 51.5129), "£5 off lunch for two",
             {"type": "amount_off", "amount": 5, "currency": "GBP"}),
        )
        for number, (name, category, point, title, benefit) in enumerate(merchants):
            email = f"merchant-{os.getpid()}-{number}@example.com"
            merchant = self.call("POST", "/merchants", json={
                "email": email, "password": PASSWORD, "name": name, "category": category})
            token = self.login(email, PASSWORD)
            store = self.call("POST", "/merchants/me/stores", token, json={
                "name": f"{name}, Bank", "street": f"{10 + number} Cornhill",
                "locality": "London", "postcode": "EC3V 3ND", "country": "GB",
                "location": {"type": "Point", "coordinates": list(point)}})
            offer = self.call("POST", "/merchants/me/offers", token, json={
                "title": title, "description": f"{title} at {name}.",
                "terms": "One per visit.", "category": category, "benefit": benefit,
                "valid_from": (now - timedelta(days=1)).isoformat(),
                "valid_until": (now + timedelta(days=40)).isoformat(),
                "eligible_tiers": ["classic", "gold", "platinum"],
                "store_ids": [store["id"]]})
            self.call("POST", f"/review/merchants/{merchant['id']}/verify", reviewer,
                      json={"seen_version": merchant["version"]})
            self.call("POST", f"/review/offers/{offer['id']}/approve", reviewer,
                      json={"seen_version": offer["version"]})

    def seed_queue_system(self) -> None:
        """A queue_system account bound to the four branches nearest Bank, and a typical wait
        for the fourth: three reports of this hour moved to PostgreSQL (as `flask queue flush`
        does), then the system falls silent there (its live key goes, as on expiry)."""
        from backend.queues.estimate import estimate_wait_min
        from backend.queues.service import bind_branches, flush_aggregates
        from backend.queues.store import PREFIX, QueueStore

        self.queue_system = self.make_user("queue_system", display_name="Queue system")
        page = self.call("GET", "/branches/nearby",
                         params={"lat": BANK[0], "lon": BANK[1], "limit": 8})
        ids = [f["properties"]["id"] for f in page["features"]][:4]
        self.queue_branches = dict(zip(("busy", "quiet", "priority", "typical"), ids,
                                       strict=True))
        with self.db() as session:
            user_id = session.execute(text("SELECT id FROM users WHERE email = :e"),
                                      {"e": self.queue_system[0]}).scalar_one()
            bind_branches(session, user_id, ids)
            typical_id = session.execute(text("SELECT id FROM places WHERE public_id = :p"),
                                         {"p": self.queue_branches["typical"]}).scalar_one()
        token = self.login(*self.queue_system)
        now = datetime.now(UTC)
        for seconds in (3, 2, 1):
            self.call("PUT", f"/branches/{self.queue_branches['typical']}/queue", token, json={
                "as_of": (now - timedelta(seconds=seconds)).isoformat(),
                "lines": [_queue_line("counter", 9, 2, 300)]})
        store = QueueStore()
        store.bind(self.redis_url)
        with self.db() as session:
            flush_aggregates(session, store)
            # The same typical wait (three reports of 9 waiting) for every hour of the week,
            # so that a session that crosses the hour, or reports that straddled it, still
            # find one.
            session.execute(text(
                "INSERT INTO queue_typical (place_id, line, hour_of_week, samples, "
                "wait_min_sum, waiting_sum) SELECT :p, 'counter', h, 3, :w, 27 "
                "FROM generate_series(0, 167) h ON CONFLICT (place_id, line, hour_of_week) "
                "DO UPDATE SET samples = 3, wait_min_sum = EXCLUDED.wait_min_sum, "
                "waiting_sum = EXCLUDED.waiting_sum"),
                {"p": typical_id, "w": 3 * estimate_wait_min(9, 2, 300)})
            session.commit()
        store.client.delete(f"{PREFIX}{typical_id}")
        store.client.close()
        self.report_queues()

    def report_queues(self) -> None:
        """Report live queues now (the live state expires a few minutes after each report):
        the nearest branch busy, the next quiet, the third with a priority counter."""
        token = self.login(*self.queue_system)
        as_of = datetime.now(UTC).isoformat()
        lines = {
            "busy": [_queue_line("counter", 14, 1, 240), _queue_line("cash", 3, 1, 150)],
            "quiet": [_queue_line("counter", 0, 2, 240)],
            "priority": [_queue_line("counter", 5, 2, 240),
                         _queue_line("priority", 0, 1, 360)],
        }
        self.call("POST", "/queue-reports", token, json={"reports": [
            {"branch_id": self.queue_branches[name], "as_of": as_of, "lines": body}
            for name, body in lines.items()]})

    def make_user(self, role: str = "cardholder", **kwargs: Any) -> tuple[str, str]:
        """Create a user; returns (email, password)."""
        from backend.accounts.service import create_user

        email = f"{role}-{os.getpid()}-{next(self._users)}@example.com"
        with self.db() as session:
            create_user(session, email, PASSWORD, role, kwargs.pop("display_name", "Alex Tan"),
                        **kwargs)
        return email, PASSWORD


def _queue_line(line: str, waiting: int, open_desks: int, mean_service_s: float) -> dict:
    return {"line": line, "waiting": waiting, "open_desks": open_desks,
            "mean_service_s": mean_service_s}


def _create_database(database_url: str) -> str:
    """A fresh database beside the session's test database, migrated and with the sample."""
    from backend.uploads.loader import load_places_file

    admin_url = make_url(normalise_database_url(database_url))
    url = admin_url.set(database=MOBILE_DB)
    plain = admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {MOBILE_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {MOBILE_DB}")
    rendered = url.render_as_string(hide_password=False)
    upgrade(rendered)
    engine = create_engine(rendered)
    try:
        with Session(engine) as session:
            report = load_places_file(session, SAMPLE_CSV)
            assert not report.errors, report.errors[:3]
    finally:
        engine.dispose()
    return rendered


@pytest.fixture(scope="session")
def live_backend(database_url, redis_url, tmp_path_factory):
    """The backend serving its own database (sample data loaded) on a free loopback port, with
    its own Redis for live queues, fed by a queue system through the API."""
    url = _create_database(database_url)
    backend = LiveBackend(url, tmp_path_factory.mktemp("live-backend"), redis_url)
    backend.start()
    backend.seed_offers()
    backend.seed_queue_system()
    yield backend
    backend.close()


@pytest.fixture
def backend(live_backend):
    """The live backend, running, with an empty request log and no faults."""
    live_backend.start()
    live_backend.reset_faults()
    live_backend.report_queues()  # fresh live waits for every test (they expire otherwise)
    live_backend.clear_log()
    yield live_backend
    live_backend.start()  # a test that stopped it leaves it running for the next


@pytest.fixture
def cardholder(backend) -> tuple[str, str]:
    """A new cardholder's (email, password)."""
    return backend.make_user("cardholder", card_tier="gold")


@pytest.fixture
def token_store(tmp_path):
    """A file token store in the test's own folder."""
    from mobile.core.tokens import FileTokenStore

    return FileTokenStore(tmp_path / "data" / "refresh-token")


@pytest.fixture
def api(backend, token_store):
    """An API client of the live backend, signed out."""
    from mobile.core.api import ApiClient

    client = ApiClient(backend.url, token_store)
    yield client
    client.close()


@pytest.fixture
def make_core(backend, tmp_path):
    """Build an AppCore on the live backend (inline runner: deterministic, no threads)."""
    from mobile.core.app_core import AppCore
    from mobile.core.runner import InlineRunner

    cores = []

    def make(place: tuple[float, float] | None = BANK, runner=None, **kwargs):
        opened: list[str] = kwargs.pop("opened", [])
        core = AppCore(backend.url, tmp_path / f"data{len(cores)}", runner or InlineRunner(),
                       uri_opener=lambda uri: opened.append(uri) or True, **kwargs)
        if place is not None:
            core.settings.update(place_lat=place[0], place_lon=place[1],
                                 place_label=f"{place[0]}, {place[1]}")
        core.opened = opened
        cores.append(core)
        return core

    yield make
    for core in cores:
        core.close()
