"""Branch queues: the feed of queue systems, live and typical waits, nearby with queues."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from backend.queues.service import bind_branches, estimate_wait_min
from tests.backend.factories import add_places, place_fields, public_ids_by_external_id

LAT, LON = 51.5, -0.12
PROBLEM = "application/problem+json"


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _now() -> datetime:
    return datetime.now(UTC)


def _sleep_until(moment: datetime) -> None:
    """Sleep until `moment` has passed (and a little more)."""
    time.sleep(max(0.0, (moment - _now()).total_seconds()) + 0.2)


def _line(line="counter", waiting=6, open_desks=2, mean_service_s=240.0, **extra) -> dict:
    return {"line": line, "waiting": waiting, "open_desks": open_desks,
            "mean_service_s": mean_service_s, **extra}


@pytest.fixture
def branches(session):
    """Three branches north of the point, 200 m apart, plus an ATM; {external id: public id}."""
    add_places(session,
               place_fields(LAT + 0.0018, LON, external_id="Q-1", name="One"),
               place_fields(LAT + 0.0036, LON, external_id="Q-2", name="Two"),
               place_fields(LAT + 0.0054, LON, external_id="Q-3", name="Three"),
               place_fields(LAT + 0.0009, LON, external_id="Q-ATM", kind="atm", name="ATM"))
    session.commit()
    return public_ids_by_external_id(session)


@pytest.fixture
def system(make_user, client, session, branches):
    """A queue_system account bound to branches Q-1 and Q-2; returns its auth headers."""
    user = make_user("queue_system")
    bind_branches(session, user.id, ["Q-1", "Q-2"])
    token = client.post("/api/v1/auth/login", json={
        "email": user.email, "password": "correct horse battery"}).json["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _put(client, headers, branch_id, lines, as_of=None, **extra):
    return client.put(f"/api/v1/branches/{branch_id}/queue", headers=headers,
                      json={"as_of": _iso(as_of or _now()), "lines": lines, **extra})


def _nearby(client, **params):
    response = client.get("/api/v1/branches/nearby",
                          query_string={"lat": LAT, "lon": LON, "radius_m": 2000, **params})
    assert response.status_code == 200, response.json
    return response.json


def _queue_of(collection, branch_id):
    return next(f["properties"]["queue"] for f in collection["features"] if f["id"] == branch_id)


def test_a_bound_system_reports_and_nearby_shows_the_live_wait(client, system, branches,
                                                                queue_store):
    response = _put(client, system, branches["Q-1"],
                    [_line(waiting=6, open_desks=2, mean_service_s=240),
                     _line("priority", waiting=0, open_desks=1, mean_service_s=300)])
    assert response.status_code == 200, response.json
    assert response.json["accepted"] == 2

    queue = _queue_of(_nearby(client), branches["Q-1"])
    assert queue["source"] == "live"
    assert queue["estimated_wait_min"] == round(estimate_wait_min(6, 2, 240))
    assert [line["line"] for line in queue["lines"]] == ["counter", "priority"]
    assert queue["lines"][1] == {"line": "priority", "waiting": 0, "estimated_wait_min": 0}
    # A branch without a report is unknown, never a number.
    assert _queue_of(_nearby(client), branches["Q-3"]) == {
        "line": "counter", "estimated_wait_min": None, "source": "unknown", "as_of": None,
        "lines": []}


def test_a_branch_not_bound_to_the_caller_is_403_and_nothing_is_stored(
        client, system, branches, auth_headers, queue_store):
    response = _put(client, system, branches["Q-3"], [_line()])
    assert response.status_code == 403
    assert response.content_type == PROBLEM
    # The bulk form refuses the whole request when one branch is not the caller's.
    bulk = client.post("/api/v1/queue-reports", headers=system, json={"reports": [
        {"branch_id": branches["Q-1"], "as_of": _iso(_now()), "lines": [_line()]},
        {"branch_id": branches["Q-3"], "as_of": _iso(_now()), "lines": [_line()]}]})
    assert bulk.status_code == 403
    assert queue_store.client.keys("nb:qb:*") == []
    # Other roles may not report at all; without a token it is 401.
    assert _put(client, auth_headers("cardholder"), branches["Q-1"], [_line()]).status_code == 403
    assert _put(client, auth_headers("maintainer"), branches["Q-1"], [_line()]).status_code == 403
    assert _put(client, {}, branches["Q-1"], [_line()]).status_code == 401
    assert _put(client, system, "not-a-uuid", [_line()]).status_code == 403


@pytest.mark.parametrize("lines, as_of, field", [
    ([_line(waiting=-1)], None, "lines.0.waiting"),
    ([_line(line="lobby")], None, "lines.0.line"),
    ([_line(open_desks=1.5)], None, "lines.0.open_desks"),
    ([_line(mean_service_s=0)], None, "lines.0.mean_service_s"),
    ([_line(), _line()], None, "lines"),
    ([], None, "lines"),
    ([_line()], "2026-12-01T10:00:00", "as_of"),
    ([_line()], "yesterday", "as_of"),
])
def test_bad_values_are_400_problems_naming_the_field(client, system, branches, queue_store,
                                                      lines, as_of, field):
    response = client.put(f"/api/v1/branches/{branches['Q-1']}/queue", headers=system,
                          json={"as_of": as_of or _iso(_now()), "lines": lines})
    assert response.status_code == 400
    assert response.content_type == PROBLEM
    assert field in [e["field"] for e in response.json["errors"]]
    assert queue_store.client.keys("nb:qb:*") == []


def test_a_report_from_the_future_is_400_and_changes_nothing(client, system, branches,
                                                             queue_store):
    response = _put(client, system, branches["Q-1"], [_line()],
                    as_of=_now() + timedelta(minutes=5))
    assert response.status_code == 400
    assert response.content_type == PROBLEM
    assert queue_store.client.keys("nb:qb:*") == []


def test_bulk_takes_up_to_1000_lines(client, system, branches, queue_store):
    report = {"branch_id": branches["Q-1"], "as_of": _iso(_now()),
              "lines": [_line(name) for name in ("counter", "cash", "advisor", "priority")]}
    too_many = client.post("/api/v1/queue-reports", headers=system,
                           json={"reports": [report] * 251})
    assert too_many.status_code == 400
    ok = client.post("/api/v1/queue-reports", headers=system, json={"reports": [
        report, {**report, "branch_id": branches["Q-2"]}]})
    assert ok.status_code == 200, ok.json
    assert ok.json["accepted"] == 8


def test_an_older_or_repeated_report_is_ignored(client, system, branches, queue_store):
    newer = _now() - timedelta(seconds=10)
    assert _put(client, system, branches["Q-1"], [_line(waiting=3)],
                as_of=newer).json["accepted"] == 1
    older = _put(client, system, branches["Q-1"], [_line(waiting=30)],
                 as_of=newer - timedelta(seconds=30))
    assert older.status_code == 200
    assert older.json["accepted"] == 0 and older.json["ignored_older"] == 1
    repeated = _put(client, system, branches["Q-1"], [_line(waiting=3)], as_of=newer)
    assert repeated.json["ignored_older"] == 1
    queue = _queue_of(_nearby(client), branches["Q-1"])
    assert queue["lines"][0]["waiting"] == 3
    assert datetime.fromisoformat(queue["as_of"]) == newer.replace(microsecond=0)


def test_live_state_expires_to_unknown(app, client, system, branches, queue_store):
    ttl = app.config["QUEUE_LIVE_TTL_SECONDS"]
    # Measured so long ago that it has 4 s left to live.
    as_of = _now() - timedelta(seconds=ttl) + timedelta(seconds=4)
    assert _put(client, system, branches["Q-1"], [_line()], as_of=as_of).json["accepted"] == 1
    assert _queue_of(_nearby(client), branches["Q-1"])["source"] == "live"
    _sleep_until(as_of + timedelta(seconds=ttl))
    assert _queue_of(_nearby(client), branches["Q-1"])["source"] == "unknown"
    # A report that is already too old is not stored at all.
    stale = _put(client, system, branches["Q-1"], [_line()],
                 as_of=_now() - timedelta(seconds=ttl + 1))
    assert stale.json["expired_on_arrival"] == 1
    assert _queue_of(_nearby(client), branches["Q-1"])["source"] == "unknown"


def test_a_line_no_longer_reported_expires_while_the_others_stay_live(app, client, system,
                                                                      branches, queue_store):
    ttl = app.config["QUEUE_LIVE_TTL_SECONDS"]
    old = _now() - timedelta(seconds=ttl) + timedelta(seconds=4)
    _put(client, system, branches["Q-1"], [_line(), _line("cash", waiting=2)], as_of=old)
    # The counter keeps reporting; the cash line falls silent.
    _put(client, system, branches["Q-1"], [_line(waiting=4)])
    before = _queue_of(_nearby(client), branches["Q-1"])
    assert [line["line"] for line in before["lines"]] == ["counter", "cash"]
    _sleep_until(old + timedelta(seconds=ttl))
    after = _queue_of(_nearby(client), branches["Q-1"])
    assert after["source"] == "live"
    assert after["lines"] == [{"line": "counter", "waiting": 4,
                               "estimated_wait_min": round(estimate_wait_min(4, 2, 240))}]
    assert _nearby(client, line="cash")["features"][0]["properties"]["queue"][
        "estimated_wait_min"] is None


def test_typical_wait_by_hour_of_week_when_live_is_missing(session, client, system, branches,
                                                           queue_store):
    from backend.queues.service import flush_aggregates

    # Three reports within one hour of the week (the hour of the request too, given as `at`).
    now = _now()
    start = max(now - timedelta(seconds=20), now.replace(minute=0, second=0, microsecond=0))
    waits = []
    for i, waiting in enumerate((4, 8, 12)):
        _put(client, system, branches["Q-1"], [_line(waiting=waiting)],
             as_of=start + timedelta(seconds=i))
        waits.append(estimate_wait_min(waiting, 2, 240))
    flush_aggregates(session, queue_store)
    row = session.execute(text(
        "SELECT samples, wait_min_sum FROM queue_typical t JOIN places p ON p.id = t.place_id "
        "WHERE p.public_id = :id AND t.line = 'counter'"), {"id": branches["Q-1"]}).one()
    assert row.samples == 3 and row.wait_min_sum == pytest.approx(sum(waits))

    queue_store.client.flushdb()  # the system falls silent: its live lines are gone
    queue = _queue_of(_nearby(client, at=_iso(start + timedelta(seconds=2))), branches["Q-1"])
    assert queue["source"] == "typical"
    assert queue["estimated_wait_min"] == round(sum(waits) / 3)
    assert queue["as_of"] is None


def test_nearby_keeps_working_when_redis_is_down(app, client, system, branches, tmp_path):
    from backend.rediscluster import ensure_redis, stop_redis

    store = app.extensions["queue_store"]
    working = store.client
    folder = tmp_path / "doomed"
    try:
        store.bind(ensure_redis(folder))
        assert _put(client, system, branches["Q-1"], [_line()]).status_code == 200
        assert _queue_of(_nearby(client), branches["Q-1"])["source"] == "live"
        stop_redis(folder)
        collection = _nearby(client)
        assert _queue_of(collection, branches["Q-1"])["source"] == "unknown"
        assert _nearby(client, order="soonest_served")["count"] == 3
        # Writers learn that the feed cannot be stored: 503 with Retry-After, not 500.
        refused = _put(client, system, branches["Q-1"], [_line()])
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        assert refused.content_type == PROBLEM
    finally:
        stop_redis(folder)
        store.client = working
        store.bind(app.config["REDIS_URL"])


def test_atms_carry_no_queue_and_cost_no_redis_call(client, branches, queue_store):
    queue_store.client.config_resetstat()
    atms = client.get("/api/v1/atms/nearby", query_string={"lat": LAT, "lon": LON})
    assert atms.json["count"] == 1
    assert "queue" not in atms.json["features"][0]["properties"]
    assert queue_store.client.info("commandstats").get("cmdstat_mget") is None
    _nearby(client)
    assert queue_store.client.info("commandstats")["cmdstat_mget"]["calls"] == 1


def test_max_wait_min_keeps_known_short_waits_across_pages(client, system, branches,
                                                           queue_store):
    _put(client, system, branches["Q-1"], [_line(waiting=20, open_desks=1)])  # ~82 min
    _put(client, system, branches["Q-2"], [_line(waiting=1, open_desks=2)])   # ~3 min
    short = _nearby(client, max_wait_min=10)
    assert [f["id"] for f in short["features"]] == [branches["Q-2"]]
    assert short["features"][0]["properties"]["queue"]["estimated_wait_min"] <= 10
    # The advisor line is not reported anywhere: nothing is known to be short there.
    assert _nearby(client, max_wait_min=10, line="advisor")["count"] == 0
    both = _nearby(client, max_wait_min=100, limit=1)
    assert [f["id"] for f in both["features"]] == [branches["Q-1"]]
    rest = _nearby(client, max_wait_min=100, limit=1, cursor=both["next_cursor"])
    assert [f["id"] for f in rest["features"]] == [branches["Q-2"]]
    assert rest["next_cursor"] is None
    assert client.get("/api/v1/branches/nearby", query_string={
        "lat": LAT, "lon": LON, "max_wait_min": -1}).status_code == 400


def test_soonest_served_says_the_trade(client, system, branches, queue_store):
    _put(client, system, branches["Q-1"], [_line(waiting=9, open_desks=1, mean_service_s=120)])
    _put(client, system, branches["Q-2"], [_line(waiting=0, open_desks=1)])
    default = _nearby(client)
    assert [f["id"] for f in default["features"]] == [branches[k] for k in ("Q-1", "Q-2", "Q-3")]
    ranked = _nearby(client, order="soonest_served")
    assert ranked["order"] == {"by": "soonest_served", "line": "counter",
                               "walking_pace_m_s": 1.3, "exact": True}
    ids = [f["id"] for f in ranked["features"]]
    assert ids == [branches["Q-2"], branches["Q-1"], branches["Q-3"]]
    first, second, third = (f["properties"]["soonest_served"] for f in ranked["features"])
    wait = round(estimate_wait_min(9, 1, 120))
    assert first["why"] == f"3 min further, about {wait} min less waiting"
    assert second["why"] == f"Nearest, 3 min walk; about {wait} min wait"
    assert third["why"] == "5 min further; wait unknown" and third["total_min"] is None
    assert client.get("/api/v1/branches/nearby", query_string={
        "lat": LAT, "lon": LON, "order": "soonest_served",
        "cursor": default["next_cursor"] or "x"}).status_code == 400


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_soonest_served_matches_a_brute_force_ranking(session, client, make_user, queue_store,
                                                      seed):
    rng = random.Random(seed)
    fields = [place_fields(LAT + rng.uniform(-0.03, 0.03), LON + rng.uniform(-0.05, 0.05),
                           external_id=f"R{seed}-{i}") for i in range(60)]
    add_places(session, *fields)
    session.commit()
    ids = public_ids_by_external_id(session)
    system_user = make_user("queue_system")
    bind_branches(session, system_user.id, [f["external_id"] for f in fields])
    token = client.post("/api/v1/auth/login", json={
        "email": system_user.email, "password": "correct horse battery"}).json["access_token"]
    waits = {}
    reports = []
    for f in fields:
        if rng.random() < 0.8:  # a fifth of the branches stay silent
            line = _line(waiting=rng.randint(0, 25), open_desks=rng.randint(1, 4),
                         mean_service_s=rng.uniform(60, 600))
            reports.append({"branch_id": ids[f["external_id"]], "as_of": _iso(_now()),
                            "lines": [line]})
            waits[ids[f["external_id"]]] = estimate_wait_min(
                line["waiting"], line["open_desks"], line["mean_service_s"])
    response = client.post("/api/v1/queue-reports", headers={"Authorization": f"Bearer {token}"},
                           json={"reports": reports})
    assert response.status_code == 200, response.json

    radius, limit = 4000, rng.choice([3, 10, 25])
    rows = session.execute(text("""
        SELECT public_id::text AS id,
               ST_Distance(location, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS d
        FROM places WHERE ST_DWithin(location, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)
                                     ::geography, :r)"""),
        {"lat": LAT, "lon": LON, "r": radius}).all()
    walk = {r.id: r.d / 1.3 / 60 for r in rows}
    known = sorted((walk[i] + waits[i], i) for i in walk if i in waits)
    unknown = sorted((walk[i], i) for i in walk if i not in waits)
    expected = [i for _, i in known + unknown][:limit]

    ranked = _nearby(client, order="soonest_served", radius_m=radius, limit=limit)
    assert [f["id"] for f in ranked["features"]] == expected
    assert ranked["order"]["exact"] is True


def test_one_branchs_queue_for_the_detail_screen(client, system, branches, queue_store):
    _put(client, system, branches["Q-1"], [_line(), _line("cash", waiting=0, serving=0)])
    detail = client.get(f"/api/v1/branches/{branches['Q-1']}/queue",
                        query_string={"line": "cash"})
    assert detail.status_code == 200
    assert detail.json["line"] == "cash" and detail.json["estimated_wait_min"] == 0
    assert detail.json["takes_tickets"] is True
    assert [line["line"] for line in detail.json["lines"]] == ["counter", "cash"]
    assert detail.json["lines"][1]["open_desks"] == 2 and detail.json["lines"][1]["as_of"]
    silent = client.get(f"/api/v1/branches/{branches['Q-3']}/queue").json
    assert silent["source"] == "unknown" and silent["takes_tickets"] is False
    assert client.get(f"/api/v1/branches/{branches['Q-ATM']}/queue").status_code == 404
    assert client.get("/api/v1/branches/nope/queue").status_code == 404


def test_queue_system_accounts_are_created_and_bound_with_the_cli(runner, branches):
    created = runner.invoke(args=["users", "create", "--email", "qms@vendor.example", "--role",
                                  "queue_system", "--password", "a long enough password 1"])
    assert created.exit_code == 0, created.output
    bound = runner.invoke(args=["queue", "bind", "qms@vendor.example", "Q-1", branches["Q-2"]])
    assert bound.exit_code == 0, bound.output
    assert "reports for: One, Two" in bound.output
    unknown = runner.invoke(args=["queue", "bind", "qms@vendor.example", "NOPE"])
    assert unknown.exit_code != 0 and "No branch NOPE" in unknown.output
    runner.invoke(args=["users", "create", "--email", "ops@example.com", "--role", "maintainer",
                        "--password", "a long enough password 1"])
    wrong_role = runner.invoke(args=["queue", "bind", "ops@example.com", "Q-1"])
    assert wrong_role.exit_code != 0 and "queue_system" in wrong_role.output
    flushed = runner.invoke(args=["queue", "flush"])
    assert flushed.exit_code == 0 and "typical waits updated" in flushed.output
