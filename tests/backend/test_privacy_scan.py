"""After a run of nearby requests, no request coordinate is anywhere in the database or the logs.

The only trace an offers request may leave is an unlinkable token per offer and day.
"""

from __future__ import annotations

import logging
import re
import struct
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.backend.factories import add_places, place_fields
from tests.backend.offer_factories import (  # noqa: F401 (a fixture)
    OfferWorld,
    fast_password_hashing,
    square,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")

# Distinctive query points: finding any of their forms anywhere means a request leaked.
QUERY_POINTS = [(51.4872913, -0.1183227), (51.4911437, -0.1259361), (1.2867419, 103.8533571)]
# PostGIS's own reference data is not ours and is full of numbers.
NOT_OURS = {"spatial_ref_sys"}


def forms(value: float) -> set[str]:
    """How a coordinate could appear: as sent, rounded to 4-6 decimals, as a stored double."""
    texts = {repr(value)} | {f"{value:.{places}f}" for places in (4, 5, 6)}
    packed = struct.pack("<d", value).hex()
    return texts | {packed, packed.upper(), struct.pack(">d", value).hex().upper()}


FORBIDDEN = sorted({form for lat, lon in QUERY_POINTS for form in forms(lat) | forms(lon)})


def dump_database(session) -> str:
    """Every row of every table of ours as text, plus its spatial columns as WKT."""
    tables = session.scalars(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")).all()
    spatial = session.execute(text("""
        SELECT f_table_name, f_geography_column FROM geography_columns
        UNION ALL SELECT f_table_name, f_geometry_column FROM geometry_columns""")).all()
    chunks = []
    for table in tables:
        if table in NOT_OURS:
            continue
        chunks += session.scalars(text(f'SELECT t::text FROM "{table}" t')).all()
    for table, column in spatial:
        chunks += [wkt for wkt in session.scalars(text(
            f'SELECT ST_AsText("{column}") FROM "{table}"')).all() if wkt]
    return "\n".join(chunks)


def snapshot(session) -> dict[str, list[str]]:
    """Each table of ours as its sorted row texts."""
    tables = session.scalars(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")).all()
    return {t: sorted(session.scalars(text(f'SELECT t::text FROM "{t}" t')).all())
            for t in tables if t not in NOT_OURS}


@pytest.fixture
def world(client, login):
    return OfferWorld(client, login)


def test_no_request_coordinate_is_stored_or_logged(world, client, session, caplog):
    # Places and offers around each query point, at other (round) coordinates.
    add_places(session, place_fields(51.4880, -0.1190, name="Vauxhall branch"),
               place_fields(51.4920, -0.1250, name="Pimlico ATM", kind="atm"),
               place_fields(1.2870, 103.8530, name="Raffles branch", country="SG",
                            timezone="Asia/Singapore"))
    london = world.merchant("London Cafe")
    vauxhall = world.store(london, 51.4890, -0.1200, name="Vauxhall")
    pimlico = world.store(london, 51.4930, -0.1260, name="Pimlico")
    world.offer(london, [vauxhall], title="Vauxhall lunch")
    world.offer(london, [pimlico], title="Pimlico area", area=square(-0.135, 51.485, 0.02))
    singapore = world.merchant("Raffles Cafe")
    raffles = world.store(singapore, 1.2850, 103.8520, name="Raffles")
    world.offer(singapore, [raffles], title="Raffles lunch")
    cardholder = world.cardholder(categories=("dining",))
    withdrawn = world.cardholder(categories=("dining",))
    world.set_consent(withdrawn, False)
    before = snapshot(session)

    caplog.set_level(logging.DEBUG)
    shown = 0
    for lat, lon in QUERY_POINTS:
        for _ in range(2):
            response = world.nearby(cardholder, lat, lon, radius_m=2000)
            assert response.status_code == 200
            shown += len(response.json["features"])
            assert world.nearby(withdrawn, lat, lon).status_code == 403
            assert world.nearby(cardholder, lat, lon, radius_m=99_999).status_code == 400
            assert world.nearby(cardholder, lat, lon + 360).status_code == 400
            places = client.get("/api/v1/places/nearby",
                                query_string={"lat": lat, "lon": lon, "radius_m": 2000})
            assert places.status_code == 200 and places.json["features"]
            for path in ("/api/v1/branches/nearby", "/api/v1/atms/nearby",
                         "/api/v1/repayment-points/nearby"):
                assert client.get(path, query_string={"lat": lat, "lon": lon}).status_code == 200
    assert shown >= 6  # the requests did find offers, so the point was used

    database = dump_database(session)
    assert "Vauxhall lunch" in database  # the dump does read our tables
    leaked = [form for form in FORBIDDEN if form in database]
    assert leaked == [], f"request coordinates found in the database: {leaked}"
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert [form for form in FORBIDDEN if form in logged] == []

    # What the requests left: one token per (offer, day, cardholder) under today's key, nothing
    # else, and no user id in any form a reader could match.
    after = snapshot(session)
    assert [t for t in after if after[t] != before.get(t)] == ["offer_day_keys",
                                                               "offer_day_viewers"]
    counts = session.execute(text("SELECT count(*), count(DISTINCT offer_id), count(DISTINCT day) "
                                  "FROM offer_day_viewers")).one()
    assert tuple(counts) == (3, 3, 1)  # one cardholder, three offers shown, however often

    # The scan does find a coordinate that is stored (here a store put at the query point).
    world.store(london, *QUERY_POINTS[0], name="Control")
    found = [form for form in FORBIDDEN if form in dump_database(session)]
    assert "51.4872913" in found and "-0.1183227" in found


ROOT = Path(__file__).resolve().parents[2]
# Libraries and platform APIs that send a message to a person: e-mail, SMS, push, notifications.
MESSAGING_IMPORT = re.compile(
    r"^\s*(?:from|import)\s+(?:smtplib|email\.mime|flask_mail|flask_mailman|twilio|sendgrid|"
    r"vonage|nexmo|firebase_admin|pyfcm|apns2?|aioapns|pywebpush|exponent_server_sdk|"
    r"onesignal|pusher|boto3)\b", re.MULTILINE)
MESSAGING_USE = re.compile(r"plyer\s+import\s+[^\n]*\bnotification\b|plyer\.notification|"
                           r"NotificationManager|NotificationCompat|UNUserNotificationCenter")
MESSAGING_PACKAGES = ("flask-mail", "flask-mailman", "twilio", "sendgrid", "vonage",
                      "firebase-admin", "pyfcm", "apns2", "aioapns", "pywebpush",
                      "exponent-server-sdk", "onesignal", "pusher", "boto3")


def test_nothing_in_the_project_sends_a_message_to_a_user(app):
    sources = [p for folder in ("backend", "mobile", "bench", "migrations", "scripts")
               for p in (ROOT / folder).rglob("*.py")]
    assert any(p.name == "nearby.py" for p in sources)
    offenders = [str(p.relative_to(ROOT)) for p in sources
                 if MESSAGING_IMPORT.search(p.read_text(encoding="utf-8"))
                 or MESSAGING_USE.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
    dependencies = (ROOT / "pyproject.toml").read_text(encoding="utf-8").lower()
    assert [name for name in MESSAGING_PACKAGES if f'"{name}' in dependencies] == []
    words = re.compile(r"notif|push|sms|e-?mail|message|send|subscribe", re.IGNORECASE)
    assert [rule.rule for rule in app.url_map.iter_rules() if words.search(rule.rule)] == []
