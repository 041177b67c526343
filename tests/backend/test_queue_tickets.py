"""Remote tickets: take, see, cancel; the queue system pulls them and reports them called/served."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from backend.queues.service import bind_branches, estimate_wait_min
from tests.backend.factories import add_places, place_fields, public_ids_by_external_id
from tests.backend.test_queues import LAT, LON, PROBLEM, _line, _put

PASSWORD = "correct horse battery"


@pytest.fixture
def branches(session):
    add_places(session,
               place_fields(LAT + 0.0018, LON, external_id="T-1", name="One"),
               place_fields(LAT + 0.0036, LON, external_id="T-2", name="Two"),
               place_fields(LAT + 0.0054, LON, external_id="T-3", name="Three"))
    session.commit()
    return public_ids_by_external_id(session)


def _login(client, user) -> dict:
    token = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    return {"Authorization": f"Bearer {token.json['access_token']}"}


@pytest.fixture
def system(make_user, client, session, branches):
    """A queue system bound to T-1 and T-2."""
    user = make_user("queue_system")
    bind_branches(session, user.id, ["T-1", "T-2"])
    return _login(client, user)


@pytest.fixture
def cardholder(make_user, client):
    return _login(client, make_user("cardholder", card_tier="classic"))


def _take(client, headers, branch_id, line="counter"):
    return client.post(f"/api/v1/branches/{branch_id}/tickets", headers=headers,
                       json={"line": line})


def _mine(client, headers) -> list[dict]:
    response = client.get("/api/v1/me/tickets", headers=headers)
    assert response.status_code == 200
    return response.json["tickets"]


def _pull(client, system, after=0) -> dict:
    response = client.get("/api/v1/queue-system/tickets", headers=system,
                          query_string={"after": after})
    assert response.status_code == 200, response.json
    return response.json


def test_a_ticket_from_take_to_served(client, system, cardholder, branches, queue_store):
    branch = branches["T-1"]
    _put(client, system, branch, [_line(waiting=4, open_desks=2, mean_service_s=300)])
    taken = _take(client, cardholder, branch)
    assert taken.status_code == 201, taken.json
    ticket = taken.json
    assert ticket["label"] == "C001" and ticket["status"] == "waiting"
    assert ticket["branch"] == {"id": branch, "name": "One"}
    # Not placed by the queue system yet: no position, the line's own estimate.
    assert ticket["position"] is None
    assert ticket["estimated_wait_min"] == round(estimate_wait_min(4, 2, 300))
    assert ticket["estimate_source"] == "live"

    again = _take(client, cardholder, branches["T-2"])
    assert again.status_code == 409 and again.content_type == PROBLEM
    assert again.json["ticket_id"] == ticket["id"]

    pulled = _pull(client, system)
    assert [(t["id"], t["status"], t["label"]) for t in pulled["tickets"]] == [
        (ticket["id"], "waiting", "C001")]
    # Only the ticket itself: nothing about who holds it or where they are.
    assert set(pulled["tickets"][0]) == {"id", "branch_id", "line", "label", "number", "status",
                                         "created_at", "check_in_by", "change"}
    assert _pull(client, system, pulled["next_after"])["tickets"] == []

    # The system places it with its next report: two people ahead of it.
    placed = _put(client, system, branch, [_line(waiting=5, open_desks=2, mean_service_s=300)],
                  tickets=[{"id": ticket["id"], "status": "waiting", "ahead": 2}],
                  tickets_after=pulled["next_after"])
    assert placed.json["tickets_updated"] == 1
    mine = _mine(client, cardholder)[0]
    assert mine["position"] == 3
    assert mine["estimated_wait_min"] == round(estimate_wait_min(2, 2, 300))

    _put(client, system, branch, [_line(waiting=3)], tickets=[{"id": ticket["id"],
                                                               "status": "called"}])
    mine = _mine(client, cardholder)[0]
    assert (mine["status"], mine["position"], mine["estimated_wait_min"]) == ("called", 0, 0)
    _put(client, system, branch, [_line(waiting=2)], tickets=[{"id": ticket["id"],
                                                               "status": "served"}])
    mine = _mine(client, cardholder)[0]
    assert mine["status"] == "served" and mine["position"] is None
    # Served is final: a late "called" is ignored, and the cardholder may take a new ticket.
    late = _put(client, system, branch, [_line(waiting=2)],
                tickets=[{"id": ticket["id"], "status": "called"}])
    assert late.json["tickets_ignored"] == 1
    assert _mine(client, cardholder)[0]["status"] == "served"
    assert client.delete(f"/api/v1/me/tickets/{ticket['id']}",
                         headers=cardholder).status_code == 409
    second = _take(client, cardholder, branch, "cash")
    assert second.status_code == 201 and second.json["label"] == "K001"


def test_cancelling_reaches_the_queue_system(client, system, cardholder, make_user, branches,
                                             queue_store):
    ticket = _take(client, cardholder, branches["T-2"]).json
    after = _pull(client, system)["next_after"]
    # Someone else cannot cancel it (nor learn that it exists).
    other = _login(client, make_user("cardholder", card_tier="gold"))
    assert client.delete(f"/api/v1/me/tickets/{ticket['id']}", headers=other).status_code == 404
    assert client.delete("/api/v1/me/tickets/nonsense", headers=other).status_code == 404
    cancelled = client.delete(f"/api/v1/me/tickets/{ticket['id']}", headers=cardholder)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    pulled = _put(client, system, branches["T-2"], [_line()], tickets_after=after).json
    assert [(t["id"], t["status"]) for t in pulled["tickets"]] == [(ticket["id"], "cancelled")]
    # A queue system calling a cancelled ticket changes nothing.
    called = _put(client, system, branches["T-2"], [_line()],
                  tickets=[{"id": ticket["id"], "status": "called"}])
    assert called.json["tickets_ignored"] == 1
    assert _mine(client, cardholder)[0]["status"] == "cancelled"
    # The next ticket of the line and day takes the next number.
    assert _take(client, cardholder, branches["T-2"]).json["label"] == "C002"


def test_a_ticket_not_checked_in_in_time_lapses(app, client, system, cardholder, branches,
                                                queue_store):
    app.config["QUEUE_TICKET_CHECK_IN_MINUTES"] = 0
    try:
        ticket = _take(client, cardholder, branches["T-1"]).json
    finally:
        app.config["QUEUE_TICKET_CHECK_IN_MINUTES"] = 45
    assert datetime.fromisoformat(ticket["check_in_by"]) <= datetime.fromisoformat(
        ticket["created_at"])
    assert _mine(client, cardholder)[0]["status"] == "lapsed"
    assert [t["status"] for t in _pull(client, system)["tickets"]] == ["lapsed"]
    # A lapsed ticket is no longer active: a new one may be taken.
    assert _take(client, cardholder, branches["T-1"]).status_code == 201


def test_a_checked_in_ticket_does_not_lapse(app, client, system, cardholder, branches,
                                            queue_store):
    app.config["QUEUE_TICKET_CHECK_IN_MINUTES"] = 0
    try:
        ticket = _take(client, cardholder, branches["T-1"]).json
    finally:
        app.config["QUEUE_TICKET_CHECK_IN_MINUTES"] = 45
    # The deadline passed before the system said so: lapsed wins, check-in is ignored.
    late = _put(client, system, branches["T-1"], [_line()],
                tickets=[{"id": ticket["id"], "status": "checked_in"}])
    assert late.json["tickets_ignored"] == 1
    fresh = _take(client, cardholder, branches["T-1"]).json
    on_time = _put(client, system, branches["T-1"], [_line()],
                   tickets=[{"id": fresh["id"], "status": "checked_in", "ahead": 1}])
    assert on_time.json["tickets_updated"] == 1
    mine = _mine(client, cardholder)[0]
    assert mine["status"] == "checked_in" and mine["position"] == 2


def test_tickets_are_rate_limited_per_cardholder(app, client, cardholder, system, branches,
                                                 queue_store):
    app.config["QUEUE_TICKETS_PER_HOUR"] = 2
    try:
        for _ in range(2):
            ticket = _take(client, cardholder, branches["T-1"]).json
            client.delete(f"/api/v1/me/tickets/{ticket['id']}", headers=cardholder)
        third = _take(client, cardholder, branches["T-1"])
    finally:
        app.config["QUEUE_TICKETS_PER_HOUR"] = 5
    assert third.status_code == 429 and third.content_type == PROBLEM
    assert 3500 <= int(third.headers["Retry-After"]) <= 3600
    assert [t["status"] for t in _mine(client, cardholder)] == ["cancelled", "cancelled"]


def test_who_may_take_a_ticket_where(client, cardholder, auth_headers, system, branches,
                                     queue_store):
    # A branch whose queue system is not connected takes no tickets.
    assert _take(client, cardholder, branches["T-3"]).status_code == 409
    assert _take(client, cardholder, "0b6f4a3e-1111-4c4c-8888-000000000000").status_code == 404
    assert _take(client, auth_headers("maintainer"), branches["T-1"]).status_code == 403
    assert _take(client, system, branches["T-1"]).status_code == 403
    assert _take(client, {}, branches["T-1"]).status_code == 401
    bad_line = _take(client, cardholder, branches["T-1"], "lobby")
    assert bad_line.status_code == 400 and bad_line.json["errors"][0]["field"] == "line"
    # No position of the cardholder is taken: a body carrying one is refused.
    with_position = client.post(f"/api/v1/branches/{branches['T-1']}/tickets",
                                headers=cardholder, json={"line": "counter", "lat": LAT,
                                                          "lon": LON})
    assert with_position.status_code == 400
    assert _mine(client, cardholder) == []


def test_tickets_store_no_position_and_are_reported_only_for_their_branch(
        session, client, system, cardholder, branches, queue_store):
    columns = {row.column_name: row.udt_name for row in session.execute(text(
        "SELECT column_name, udt_name FROM information_schema.columns "
        "WHERE table_name = 'queue_tickets'"))}
    assert "geography" not in columns.values() and "geometry" not in columns.values()
    assert not {"lat", "lon", "location"} & set(columns)
    ticket = _take(client, cardholder, branches["T-1"]).json
    wrong_branch = _put(client, system, branches["T-2"], [_line()],
                        tickets=[{"id": ticket["id"], "status": "called"}])
    assert wrong_branch.status_code == 400 and wrong_branch.content_type == PROBLEM
    assert _mine(client, cardholder)[0]["status"] == "waiting"
