"""A real PostGIS for the suite: DATABASE_URL if set, otherwise a private scratch cluster."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from backend import create_app
from backend.config import TestConfig
from backend.extensions import db
from backend.migrate import upgrade
from backend.pgcluster import destroy_cluster, ensure_cluster

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CSV = ROOT / "data" / "branches" / "sample.csv"
SAMPLE_GEOJSON = ROOT / "data" / "branches" / "sample.geojson"
PASSWORD = "correct horse battery"

# Property tests: no per-example deadline (a shared 2-core runner can stall any example past
# 200 ms) and the same examples on every run, so that a failure reproduces where it was seen.
# HYPOTHESIS_PROFILE=explore draws new examples each run.
settings.register_profile("suite", deadline=None, derandomize=True, database=None,
                          print_blob=True)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))


@pytest.fixture(scope="session")
def database_urls():
    """(superuser, owner, app) URLs of a PostGIS database whose schema is applied once.

    The private cluster takes the same path as `make run`: passwords, migrations as the owning
    role, the app as a role that may only read and write rows. A given DATABASE_URL is used
    as-is for all three.
    """
    url = os.environ.get("DATABASE_URL")
    scratch = None
    if url:
        urls = (url, os.environ.get("DATABASE_OWNER_URL", url), url)
    else:
        scratch = Path(tempfile.mkdtemp(prefix="nearbank-test-"))
        scratch.chmod(0o755)  # the server runs as the postgres user and must enter it
        cluster = ensure_cluster(scratch / "pgdata", durable=False)
        urls = (cluster.admin_url, cluster.owner_url, cluster.url)
    upgrade(urls[1])
    yield urls
    if scratch is not None:
        destroy_cluster(scratch / "pgdata")
        scratch.rmdir()


@pytest.fixture(scope="session")
def database_url(database_urls):
    """A superuser URL of the test database (for tests that create databases of their own)."""
    return database_urls[0]


@pytest.fixture(scope="session")
def app_database_url(database_urls):
    """The URL the app under test connects with: the app role."""
    return database_urls[2]


@pytest.fixture(scope="session")
def redis_url():
    """A private Redis on a Unix socket in a scratch folder, for the session."""
    from backend.rediscluster import ensure_redis, stop_redis

    folder = Path(tempfile.mkdtemp(prefix="nearbank-redis-"))
    url = ensure_redis(folder / "redis")
    yield url
    stop_redis(folder / "redis")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def app(app_database_url, redis_url):
    """The Flask app bound to the test database as the app role, live queues in Redis."""
    return create_app(TestConfig(app_database_url, redis_url))


@pytest.fixture
def queue_store(app):
    """The app's live queue store, emptied for the test."""
    store = app.extensions["queue_store"]
    store.client.flushdb()
    return store


@pytest.fixture
def session(app):
    """The app's session inside a transaction that is rolled back after the test."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        db.session.remove()
        db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session.configure(bind=db.engine)
            outer.rollback()
            connection.close()


@pytest.fixture
def client(app, session):
    """A test client whose requests see (and roll back with) the test's transaction."""
    return app.test_client()


@pytest.fixture
def runner(app, session):
    """A CLI runner for the app's `flask` commands."""
    return app.test_cli_runner()


@pytest.fixture
def make_user(session):
    """Create a user of a role; returns the User."""
    from backend.accounts.service import create_user

    counter = iter(range(1_000_000))

    def make(role: str = "cardholder", **kwargs):
        email = kwargs.pop("email", f"{role}{next(counter)}@example.com")
        return create_user(session, email, kwargs.pop("password", PASSWORD), role, **kwargs)

    return make


@pytest.fixture
def login(client, make_user):
    """Log in as a new user of a role; returns the token response (access and refresh)."""

    def do_login(role: str = "cardholder", **kwargs) -> dict:
        user = make_user(role, **kwargs)
        response = client.post("/api/v1/auth/login",
                               json={"email": user.email, "password": PASSWORD})
        assert response.status_code == 200, response.json
        return response.json

    return do_login


@pytest.fixture
def auth_headers(login):
    """Authorization headers for a new user of a role."""

    def headers(role: str = "cardholder", **kwargs) -> dict:
        return {"Authorization": f"Bearer {login(role, **kwargs)['access_token']}"}

    return headers


@pytest.fixture
def sample_places(session):
    """The sample data set, loaded inside the test's transaction."""
    from backend.uploads.loader import load_places_file

    report = load_places_file(session, SAMPLE_CSV)
    assert not report.errors, report.errors[:3]
    return report
