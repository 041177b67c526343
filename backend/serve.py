"""`make run`: database, schema, sample data, demo users, then gunicorn serving the API.

When DATABASE_URL is not set, a private PostGIS cluster is created (first run) or started
(later runs) under var/. Everything is idempotent: a second run loads nothing twice.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from backend import create_app
from backend.config import Config
from backend.migrate import upgrade
from backend.pgcluster import ensure_cluster

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "branches" / "sample.csv"

DEMO_USERS = (
    ("cardholder@example.com", "cardholder", "demo-cardholder-1", "platinum"),
    ("maintainer@example.com", "maintainer", "demo-maintainer-1", None),
    ("merchant@example.com", "merchant", "demo-merchant-1", None),
    ("reviewer@example.com", "reviewer", "demo-reviewer-1", None),
    ("admin@example.com", "admin", "demo-admin-1", None),
)


def var_dir() -> Path:
    """Where the private cluster and local secrets live (NEARBANK_VAR, default ./var)."""
    path = Path(os.environ.get("NEARBANK_VAR", ROOT / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def prepare() -> None:
    """Set DATABASE_URL and JWT_SECRET_KEY, migrate, load the sample, create demo users."""
    var = var_dir()
    if not os.environ.get("DATABASE_URL"):
        cluster = ensure_cluster(var / "pgdata")
        os.environ["DATABASE_URL"] = cluster.url
        print(f"private PostGIS cluster on 127.0.0.1:{cluster.port} ({var / 'pgdata'})")
    if not os.environ.get("JWT_SECRET_KEY"):
        secret_file = var / "jwt-secret"
        if not secret_file.exists():
            secret_file.write_text(secrets.token_urlsafe(48))
            secret_file.chmod(0o600)
        os.environ["JWT_SECRET_KEY"] = secret_file.read_text().strip()
    upgrade(os.environ["DATABASE_URL"])
    print("database schema is current")

    app = create_app(Config())
    from backend.accounts import service as accounts
    from backend.extensions import db
    from backend.uploads.loader import count_places, load_places_file

    with app.app_context():
        if count_places(db.session) == 0:
            report = load_places_file(db.session, SAMPLE)
            print(f"sample data {SAMPLE.relative_to(ROOT)}: {report.summary()}")
        else:
            print("places exist already; sample data not loaded again")
        print("demo users (e-mail / password):")
        for email, role, password, tier in DEMO_USERS:
            if accounts.find_user_by_email(db.session, email) is None:
                accounts.create_user(db.session, email, password, role, role.title(), tier)
            print(f"  {role:<11} {email:<24} {password}")


def main() -> None:
    """Prepare everything, then replace this process with gunicorn."""
    prepare()
    sys.stdout.flush()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    os.execv(gunicorn, [gunicorn, "--config", "python:backend.gunicorn_conf", "backend.wsgi:app"])


if __name__ == "__main__":
    main()
