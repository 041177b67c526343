"""The nearby endpoints' hot path: a pooled psycopg connection in autocommit mode.

The other API tests pin the app's session to one connection inside a rolled-back transaction,
so the endpoints read through that session. These tests commit their places and use the app
unpinned, as gunicorn serves it: the requests read through the pool's driver connections.
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import create_engine, text

from backend.extensions import db
from backend.places.service import store_in_spatial_order
from tests.backend.factories import add_places, place_fields

NEARBY = "/api/v1/places/nearby"
POINT = {"lat": 48.8566, "lon": 2.3522}


@pytest.fixture
def committed_places(app):
    """Five committed places in Paris, deleted afterwards."""
    with app.app_context():
        ids = add_places(db.session, *(
            place_fields(48.8566 + i * 0.001, 2.3522, name=f"Hot path {i}",
                         source="hot-path-test", external_id=f"hp-{i}", country="FR",
                         timezone="Europe/Paris",
                         repayment_methods=["cash"] if i % 2 else [],
                         repayment_fee="0.00" if i % 2 else None,
                         repayment_fee_currency="EUR" if i % 2 else None,
                         repayment_cutoff="17:30" if i % 2 else None)
            for i in range(5)))
        db.session.commit()
        db.session.remove()
    yield ids
    with app.app_context():
        db.session.execute(text("DELETE FROM place_history WHERE public_id IN "
                                "(SELECT public_id FROM places WHERE source = 'hot-path-test')"))
        db.session.execute(text("DELETE FROM places WHERE source = 'hot-path-test'"))
        db.session.commit()
        db.session.remove()


def _admin(database_url: str) -> psycopg.Connection:
    return psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"),
                           autocommit=True)


def _backend_pids(database_url: str) -> set[int]:
    with _admin(database_url) as admin:
        rows = admin.execute("SELECT pid FROM pg_stat_activity "
                             "WHERE application_name = 'nearbank'").fetchall()
    return {row[0] for row in rows}


def test_pages_come_from_the_pool_with_every_property(app, committed_places):
    client = app.test_client()
    first = client.get(NEARBY, query_string={**POINT, "limit": 3})
    assert first.status_code == 200
    assert first.content_type == "application/json"
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    body = first.json
    assert [f["properties"]["name"] for f in body["features"]] == [
        "Hot path 0", "Hot path 1", "Hot path 2"]
    repay = body["features"][1]["properties"]["repayment"]
    assert repay["methods"] == ["cash"] and repay["fee"] == {"amount": "0.00", "currency": "EUR"}
    assert repay["fee_free"] is True and repay["cutoff_today"].endswith(("+01:00", "+02:00"))
    assert body["features"][0]["properties"]["repayment"] is None
    second = client.get(NEARBY, query_string={**POINT, "limit": 3,
                                              "cursor": body["next_cursor"]}).json
    assert [f["properties"]["name"] for f in second["features"]] == ["Hot path 3", "Hot path 4"]
    assert second["next_cursor"] is None
    # The connection went back to the pool idle, outside any transaction, not in autocommit.
    with app.app_context():
        pool = db.engine.pool
        assert pool.checkedout() == 0
        fairy = db.engine.raw_connection()
        try:
            conn = fairy.driver_connection
            assert conn.autocommit is False
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        finally:
            fairy.close()


def test_a_pooled_connection_the_server_closed_is_replaced_without_an_error(app,
                                                                            committed_places,
                                                                            database_url):
    client = app.test_client()
    assert client.get(NEARBY, query_string=POINT).status_code == 200
    pids = _backend_pids(database_url)
    assert pids
    with _admin(database_url) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))  # gone when it returns
    # Every pooled connection is dead now: the checkout notices it without a ping and opens
    # a new one, so no request fails.
    for _ in range(3):
        response = client.get(NEARBY, query_string=POINT)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.json["count"] == 5
    assert not pids & _backend_pids(database_url)


def test_a_read_whose_connection_is_ended_mid_request_runs_once_more(app, database_url):
    """A backend told to stop can look idle at checkout and end the connection at the first
    statement: the read is run again on a fresh connection, once."""
    calls = []

    def work(conn):
        calls.append(conn.info.backend_pid)
        if len(calls) == 1:
            with _admin(database_url) as admin:
                # Waits (up to 5 s) until the backend has gone.
                admin.execute("SELECT pg_terminate_backend(%s, 5000)", (conn.info.backend_pid,))
        return conn.execute("SELECT 41 + 1").fetchone()[0]

    with app.app_context():
        assert db.read(work) == 42
    assert len(calls) == 2 and calls[0] != calls[1]


def test_a_read_that_fails_for_another_reason_is_not_run_again(app):
    calls = []

    def work(conn):
        calls.append(1)
        return conn.execute("SELECT 1 / 0").fetchone()

    with app.app_context(), pytest.raises(psycopg.errors.DivisionByZero):
        db.read(work)
    assert calls == [1]


def test_spatial_order_keeps_every_answer(app, committed_places, database_urls):
    client = app.test_client()
    before = client.get(NEARBY, query_string=POINT).json
    engine = create_engine(database_urls[1])  # CLUSTER needs the table's owner
    try:
        with engine.begin() as connection:
            store_in_spatial_order(connection)
            clustered = connection.execute(text(
                "SELECT indisclustered FROM pg_index "
                "WHERE indexrelid = 'ix_places_location'::regclass")).scalar_one()
        assert clustered is True
    finally:
        engine.dispose()
    assert client.get(NEARBY, query_string=POINT).json == before
