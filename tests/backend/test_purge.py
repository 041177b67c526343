"""`flask privacy purge` removes what is past its retention and nothing that is not."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from backend.offers import reach
from tests.backend.offer_factories import (  # noqa: F401 (a fixture)
    OfferWorld,
    fast_password_hashing,
)

pytestmark = pytest.mark.usefixtures("fast_password_hashing")


@pytest.fixture
def world(client, login):
    return OfferWorld(client, login)


def count(session, sql: str, **params) -> int:
    return session.execute(text(f"SELECT count(*) FROM {sql}"), params).scalar_one()


def test_purge_removes_what_is_past_its_retention(world, runner, session, make_user, tmp_path):
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    merchant = world.merchant()
    store = world.store(merchant, 51.5034, -0.1246)
    offer_id = session.execute(text("SELECT id FROM offers WHERE public_id = :id"), {
        "id": world.offer(merchant, [store])["id"]}).scalar_one()
    session.execute(text("UPDATE offers SET created_at = now() - interval '3 days', "
                         "valid_from = now() - interval '3 days' WHERE id = :id"),
                    {"id": offer_id})
    # Yesterday's tokens; today's (whose key creation destroys the earlier keys); and a key of
    # an ended day left behind (a day whose first answer never came, say).
    reach.record_viewers(session, 7, [offer_id], yesterday)
    # A day published long ago, past its retention, and one within it.
    session.execute(text("""INSERT INTO offer_daily_reach (offer_id, day, cardholders, epsilon)
                            VALUES (:id, DATE '2023-01-02', 4, 0.5), (:id, :recent, 5, 0.5)"""),
                    {"id": offer_id, "recent": today - timedelta(days=300)})
    # An erased person's ledger entries: one older than six years, one recent.
    for recorded_at in (datetime(2019, 1, 1, tzinfo=UTC), datetime.now(UTC)):
        session.execute(text("""
            INSERT INTO consent_events (user_id, erased_subject, recorded_at, action,
                promotions_enabled, categories, max_offers, policy_version, channel)
            VALUES (NULL, :s, :t, 'granted', true, '{dining}', 5, '2026-11', 'app')"""),
                        {"s": uuid.uuid4(), "t": recorded_at})
    # An ended login whose tokens have all expired, and one still in force.
    user = make_user("cardholder")
    for expires_at in (datetime.now(UTC) - timedelta(hours=1),
                       datetime.now(UTC) + timedelta(days=1)):
        session.execute(text("INSERT INTO token_blocklist (session_id, user_id, expires_at) "
                             "VALUES (:s, :u, :e)"),
                        {"s": uuid.uuid4(), "u": user.id, "e": expires_at})
    reach.record_viewers(session, 7, [offer_id], today)
    session.execute(text("INSERT INTO offer_day_keys (day, key) VALUES (:d, :k)"),
                    {"d": yesterday - timedelta(days=1), "k": b"\x01" * 32})

    # Access logs: the live file and a recent rotation stay, an old rotation goes.
    old = (datetime.now(UTC) - timedelta(days=15)).timestamp()
    for name, mtime in (("access.log", old), ("access.log.1", old),
                        ("access.log.2.gz", old), ("access.log-20261129", None),
                        ("notes.txt", old)):
        (tmp_path / name).write_text("x")
        if mtime:
            os.utime(tmp_path / name, (mtime, mtime))

    result = runner.invoke(args=["privacy", "purge", "--log-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "access.log", "access.log-20261129", "notes.txt"]
    assert "log files: 2" in result.output
    assert "days published: 3" in result.output  # the three ended days of the offer's life
    assert "day keys: 1" in result.output and "erased ledger entries: 1" in result.output

    assert session.scalars(text("SELECT day FROM offer_day_keys")).all() == [today]
    assert session.scalars(text("SELECT DISTINCT day FROM offer_day_viewers")).all() == [today]
    assert count(session, "offer_daily_reach WHERE day = :d", d=yesterday) == 1
    assert count(session, "offer_daily_reach WHERE day < DATE '2024-01-01'") == 0
    # The day published 300 days ago is kept (found by its day: a noisy count of a day just
    # published may be 5 too).
    assert count(session, "offer_daily_reach WHERE day = :d AND cardholders = 5",
                 d=today - timedelta(days=300)) == 1
    assert count(session, "consent_events WHERE user_id IS NULL") == 1
    assert count(session, "consent_events WHERE recorded_at < DATE '2020-01-01'") == 0
    assert count(session, "token_blocklist WHERE user_id = :u", u=user.id) == 1

    # Running it again finds nothing more to do.
    again = runner.invoke(args=["privacy", "purge"])
    assert again.exit_code == 0
    assert all(line.endswith(": 0") for line in again.output.splitlines()), again.output
