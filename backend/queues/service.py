"""Queue reports, the estimate of a wait, queues in nearby answers, soonest-served, tickets."""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import redis
from sqlalchemy import text
from sqlalchemy.orm import Session

from backend.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    TooManyRequests,
)
from backend.places.service import (
    R_DISTANCE,
    R_ID,
    R_KIND,
    R_TIMEZONE,
    NearbyQuery,
    Page,
    find_nearby_places,
    row_fetcher,
)
from backend.queues.estimate import estimate_wait_min
from backend.queues.models import ACTIVE_TICKET_STATUSES, LINES
from backend.queues.store import LineWrite, LiveLine, QueueStore

log = logging.getLogger(__name__)

# A report may be at most this far ahead of our clock (the queue system's clock drifts).
MAX_CLOCK_SKEW = timedelta(seconds=60)
# An hour of week needs this many reports before its typical wait is shown.
MIN_TYPICAL_SAMPLES = 3
TICKET_LETTERS = {"counter": "C", "cash": "K", "advisor": "A", "priority": "P"}
# What a queue system may report about a ticket, and from which states.
TICKET_MOVES = {
    "checked_in": {"waiting"},
    "called": {"waiting", "checked_in"},
    "served": {"waiting", "checked_in", "called"},
    "lapsed": {"waiting", "checked_in", "called"},
}
SOONEST_MAX_CANDIDATES = 2000


# --- The estimate ------------------------------------------------------------------------------

def hour_of_week(moment: datetime, timezone: str) -> int:
    """Monday 00:00-00:59 local time is 0, Sunday 23:00-23:59 is 167."""
    local = moment.astimezone(ZoneInfo(timezone))
    return local.weekday() * 24 + local.hour


# --- Queue systems and their branches ----------------------------------------------------------

def bind_branches(session: Session, user_id: int, branch_refs: Sequence[str]) -> list[str]:
    """Let a queue_system account report for branches (public ids or external ids).

    :raises BadRequest: when the account is not a queue system or a branch is unknown.
    """
    role = session.execute(text("SELECT role FROM users WHERE id = :id"),
                           {"id": user_id}).scalar()
    if role != "queue_system":
        raise BadRequest("Only queue_system accounts are bound to branches.",
                         [{"field": "email", "message": "Not a queue_system account."}])
    bound = []
    for ref in branch_refs:
        row = session.execute(text("""
            SELECT id, name FROM places
            WHERE kind = 'branch' AND (public_id::text = :ref OR external_id = :ref)
            ORDER BY id LIMIT 1"""), {"ref": ref}).first()
        if row is None:
            raise BadRequest(f"No branch {ref}.",
                             [{"field": "branch", "message": f"No branch has id {ref}."}])
        session.execute(text("""
            INSERT INTO queue_system_branches (user_id, place_id) VALUES (:u, :p)
            ON CONFLICT DO NOTHING"""), {"u": user_id, "p": row.id})
        bound.append(row.name)
    session.commit()
    return bound


@dataclass(frozen=True)
class _Branch:
    id: int
    public_id: str
    timezone: str


def _bound_branches(session: Session, user_id: int,
                    public_ids: Sequence[str]) -> dict[str, _Branch]:
    """The caller's branches among these ids.

    :raises Forbidden: when any of them is not bound to the caller (or does not exist).
    """
    keys = []
    for public_id in public_ids:
        try:
            keys.append(uuid.UUID(public_id))
        except ValueError:
            raise Forbidden("You may not report for this branch.") from None
    rows = session.execute(text("""
        SELECT p.id, p.public_id, p.timezone FROM queue_system_branches b
        JOIN places p ON p.id = b.place_id
        WHERE b.user_id = :user AND p.public_id = ANY(:ids)"""),
        {"user": user_id, "ids": keys}).all()
    found = {str(r.public_id): _Branch(r.id, str(r.public_id), r.timezone) for r in rows}
    missing = [str(k) for k in keys if str(k) not in found]
    if missing:
        raise Forbidden("You may not report for this branch.",
                        [{"field": "branch_id", "message": f"Not bound to you: {missing[0]}."}])
    return found


# --- Reports -----------------------------------------------------------------------------------

@dataclass
class IngestResult:
    accepted: int = 0
    ignored: int = 0
    stale: int = 0
    tickets_updated: int = 0
    tickets_ignored: int = 0
    redis_down: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "ignored_older": self.ignored,
                "expired_on_arrival": self.stale, "tickets_updated": self.tickets_updated,
                "tickets_ignored": self.tickets_ignored}


def ingest_reports(session: Session, store: QueueStore, user_id: int,
                   reports: Sequence[dict[str, Any]], now: datetime, ttl_s: int) -> IngestResult:
    """Store queue systems' reports: live lines in Redis, ticket statuses in PostgreSQL.

    Each report is {branch_id, as_of, lines: [{line, waiting, open_desks, mean_service_s,
    as_of?}], tickets: [{id, status, ahead?}]}. A line not newer than the one held is ignored.

    :raises Forbidden: when a branch is not bound to the caller (nothing is stored).
    :raises BadRequest: for a report from the future or a ticket of another branch.
    :raises ServiceUnavailable: when live state cannot be stored (nothing is changed).
    """
    branches = _bound_branches(session, user_id, [r["branch_id"] for r in reports])
    writes: list[LineWrite] = []
    result = IngestResult()
    for index, report in enumerate(reports):
        branch = branches[report["branch_id"]]
        for position, line in enumerate(report["lines"]):
            as_of = line.get("as_of") or report["as_of"]
            if as_of > now + MAX_CLOCK_SKEW:
                raise BadRequest("A report is dated in the future.", [{
                    "field": f"reports.{index}.lines.{position}.as_of",
                    "message": "Later than the server's clock (more than 60 s)."}])
            ttl_ms = int((as_of + timedelta(seconds=ttl_s) - now).total_seconds() * 1000)
            if ttl_ms <= 0:
                result.stale += 1
                continue
            live = LiveLine(line["line"], line["waiting"], line["open_desks"],
                            float(line["mean_service_s"]), int(as_of.timestamp() * 1000),
                            line.get("serving"))
            writes.append(LineWrite(
                branch.id, live, live.as_of_ms + ttl_s * 1000,
                hour_of_week(as_of, branch.timezone), live.estimate()))
    _apply_ticket_reports(session, branches, reports, now, result)
    if writes:
        try:
            flags, flush_due = store.write(writes)
        except redis.RedisError:
            session.rollback()
            raise ServiceUnavailable("Live queue state cannot be stored right now; send the "
                                     "report again shortly.") from None
        result.accepted = sum(flags)
        result.ignored = len(flags) - result.accepted
        if flush_due:
            flush_aggregates(session, store)
    session.commit()
    return result


def flush_aggregates(session: Session, store: QueueStore) -> int:
    """Add the sums accumulated in Redis to the typical waits in PostgreSQL; rows touched."""
    sums = store.take_aggregates()
    if not sums:
        return 0
    rows = []
    for field, (n, wait, waiting) in sums.items():
        place_id, line, how = field.split(":")
        rows.append({"p": int(place_id), "l": line, "h": int(how), "n": n, "w": wait,
                     "q": waiting})
    session.execute(text("""
        INSERT INTO queue_typical AS t (place_id, line, hour_of_week, samples, wait_min_sum,
                                        waiting_sum, updated_at)
        SELECT x.p, x.l, x.h, x.n, x.w, x.q, now()
        FROM jsonb_to_recordset(CAST(:rows AS jsonb))
             AS x(p bigint, l text, h smallint, n int, w float8, q float8)
        WHERE EXISTS (SELECT 1 FROM places WHERE id = x.p)
        ON CONFLICT (place_id, line, hour_of_week) DO UPDATE SET
            samples = t.samples + EXCLUDED.samples,
            wait_min_sum = t.wait_min_sum + EXCLUDED.wait_min_sum,
            waiting_sum = t.waiting_sum + EXCLUDED.waiting_sum,
            updated_at = now()"""), {"rows": _json(rows)})
    session.commit()
    return len(rows)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


# --- Queues of branches in answers -------------------------------------------------------------

# A line's state: (its `queue.lines` entry, the exact estimate, the mean service time or None,
# as_of or None, open desks or None); every line of a branch is live, or every one typical.
# Nearby answers stay lean (the entry); a branch's own queue adds the open desks.
LineState = tuple[dict[str, Any], float | None, float | None, str | None, int | None]


# The typical waits of branches at their hours of week (psycopg's placeholders: it runs on the
# hot path's connection, or through a session's driver connection).
TYPICAL_SQL = """
    SELECT t.place_id, t.line, t.wait_min_sum / t.samples, t.waiting_sum / t.samples
    FROM unnest(%(ids)s::bigint[], %(hours)s::smallint[]) AS q(id, how)
    JOIN queue_typical t ON t.place_id = q.id AND t.hour_of_week = q.how
    WHERE t.samples >= %(min_samples)s"""


class BranchQueues:
    """Queue states of branches for one request: one MGET per page, typical only if silent.

    It is the `extras` of find_nearby_places: it filters by `max_wait_min` and adds `queue`
    to every branch feature. Redis being down makes every branch's live state unknown.
    """

    def __init__(self, source: Session | psycopg.Connection, store: QueueStore, now: datetime,
                 line: str = "counter", max_wait_min: float | None = None,
                 rank: bool = False) -> None:
        # The request's read source (find_nearby_places's): typical waits are read through it.
        self.fetch = row_fetcher(source)
        self.store, self.now = store, now
        self.line, self.max_wait_min = line, max_wait_min
        self.states: dict[int, dict[str, LineState]] = {}
        self.redis_down = False
        # With `rank`: the unrounded distance and wait of each annotated feature (by its id).
        self.rank = rank
        self.exact: dict[str, tuple[float, float | None]] = {}

    @property
    def filters(self) -> bool:
        return self.max_wait_min is not None

    def lookup(self, rows: Sequence[Any]) -> None:
        """Fetch the states of rows' branches not looked up yet (rows: nearby's tuples)."""
        states = self.states
        todo = [(r[R_ID], r[R_TIMEZONE]) for r in rows
                if r[R_KIND] == "branch" and r[R_ID] not in states]
        if todo:
            self._fetch_states(todo)

    def lookup_branches(self, branches: Sequence[tuple[int, str]]) -> None:
        """Fetch the states of these (place id, time zone) branches not looked up yet."""
        todo = [(pid, tz) for pid, tz in branches if pid not in self.states]
        if todo:
            self._fetch_states(todo)

    def _fetch_states(self, todo: list[tuple[int, str]]) -> None:
        states = self.states
        live: dict[int, dict[str, LineState]] = {}
        if not self.redis_down:
            try:
                live = self.store.read([pid for pid, _ in todo])
            except redis.RedisError as exc:
                # Public reads keep working: the branches' live state is unknown for now.
                log.warning("queue state unreachable: %s", type(exc).__name__)
                self.redis_down = True
        silent = [(pid, tz) for pid, tz in todo if pid not in live]
        typical = self._typical(silent) if silent else {}
        for pid, _ in todo:
            states[pid] = live[pid] if pid in live else typical.get(pid, {})

    def _typical(self, branches: Sequence[tuple[int, str]]) -> dict[int, dict[str, LineState]]:
        """Typical states of (place id, time zone) branches at this hour of their week."""
        found = self.fetch(TYPICAL_SQL, {
            "ids": [pid for pid, _ in branches],
            "hours": [hour_of_week(self.now, tz) for _, tz in branches],
            "min_samples": MIN_TYPICAL_SAMPLES})
        states: dict[int, dict[str, LineState]] = {}
        for place_id, line, wait, waiting in found:
            entry = {"line": line, "estimated_wait_min": round(wait), "waiting": round(waiting)}
            states.setdefault(place_id, {})[line] = (entry, wait, None, None, None)
        return states

    def wait_of(self, place_id: int) -> float | None:
        """The chosen line's estimated wait (minutes), None when unknown or closed."""
        state = self.states.get(place_id, {}).get(self.line)
        return None if state is None else state[1]

    def keep(self, rows: Sequence[Any]) -> list[Any]:
        if self.max_wait_min is None:
            return list(rows)
        self.lookup(rows)
        return [r for r in rows if r[R_KIND] == "branch"
                and (w := self.wait_of(r[R_ID])) is not None and w <= self.max_wait_min]

    def annotate(self, rows: Sequence[Any], features: list[dict[str, Any]]) -> None:
        self.lookup(rows)
        queue_json, exact = self.queue_json, self.exact
        for row, feature in zip(rows, features, strict=True):
            if row[R_KIND] == "branch":
                pid = row[R_ID]
                feature["properties"]["queue"] = queue_json(pid)
                if self.rank:
                    exact[feature["id"]] = (row[R_DISTANCE], self.wait_of(pid))

    def queue_json(self, place_id: int) -> dict[str, Any]:
        """The `queue` property of a branch (shared between answers: copy it to change it)."""
        lines = self.states.get(place_id, {})
        derived = getattr(lines, "derived", None)  # live lines decoded once (BranchLines)
        if derived is None:
            return self._queue_json(lines)
        answer = derived.get(self.line)
        if answer is None:
            answer = derived[self.line] = self._queue_json(lines)
        return answer

    def _queue_json(self, lines: dict[str, LineState]) -> dict[str, Any]:
        ordered = [lines[n] for n in LINES if n in lines]
        chosen = lines.get(self.line)
        source = "unknown" if not ordered else "typical" if ordered[0][2] is None else "live"
        # as_of: the oldest line's, so that no number shown is older than it says.
        as_of = min(state[3] for state in ordered) if source == "live" else None
        return {"line": self.line,
                "estimated_wait_min": None if chosen is None else chosen[0]["estimated_wait_min"],
                "source": source, "as_of": as_of, "lines": [state[0] for state in ordered]}


def find_branches_nearby(source: Session | psycopg.Connection, store: QueueStore,
                         query: NearbyQuery, now: datetime, order: str = "nearest",
                         pace_m_s: float = 1.3) -> Page:
    """Nearby branches with their queues: nearest first, or soonest served.

    `source` is find_nearby_places's: the hot path's pooled connection or a session.

    :raises BadRequest: for a malformed cursor, or a cursor with soonest_served.
    """
    queues = BranchQueues(source, store, now, query.queue_line, query.max_wait_min,
                          rank=order != "nearest")
    if order == "nearest":
        return find_nearby_places(source, query, now, queues)
    if query.cursor:
        raise BadRequest("soonest_served answers one page; it takes no cursor.",
                         [{"field": "cursor", "in": "query",
                           "message": "Not used with order=soonest_served."}])
    return _soonest_served(source, queues, query, now, pace_m_s)


def _soonest_served(source: Session | psycopg.Connection, queues: BranchQueues,
                    query: NearbyQuery, now: datetime, pace_m_s: float) -> Page:
    """Rank by walking time plus the line's estimated wait (unknown waits after known ones).

    Candidates come nearest first; the ranking is exact once the last ranked branch's total is
    within the walking time of the farthest candidate (no farther branch can beat it), or when
    every branch in the radius was a candidate.
    """
    k = max(4 * query.limit, 50)
    while True:
        page = find_nearby_places(source, replace(query, limit=k), now, queues)
        ranked = [_walk_and_wait(f, queues, pace_m_s) for f in page.features]
        ranked.sort(key=lambda e: (e[1] is None, e[2] if e[1] is not None else e[0], e[0],
                                   e[3]["id"]))
        top = ranked[:query.limit]
        exhausted = page.next_cursor is None
        farthest_walk = ranked and max(e[0] for e in ranked)
        exact = exhausted or (len(top) == query.limit and top[-1][1] is not None
                              and top[-1][2] <= farthest_walk)
        if exact or k >= SOONEST_MAX_CANDIDATES:
            break
        k = min(k * 4, SOONEST_MAX_CANDIDATES)
    # Candidates come nearest first: the first is the nearest branch.
    nearest = min(ranked, key=lambda e: e[0], default=None)
    features = []
    for walk, wait, total, feature in top:
        feature["properties"]["soonest_served"] = {
            "walk_min": round(walk), "total_min": None if wait is None else round(total),
            "why": _why(walk, wait, nearest, feature)}
        features.append(feature)
    return Page(features, None, {"order": {
        "by": "soonest_served", "line": queues.line, "walking_pace_m_s": pace_m_s,
        "exact": bool(exact)}})


def _walk_and_wait(feature: dict[str, Any], queues: BranchQueues, pace_m_s: float):
    distance_m, wait = queues.exact[feature["id"]]
    walk = distance_m / pace_m_s / 60.0
    return walk, wait, walk + (wait or 0), feature


def _why(walk: float, wait: float | None, nearest: Any, feature: dict[str, Any]) -> str:
    """The trade against the nearest branch, in words."""
    wait_words = "wait unknown" if wait is None else f"about {round(wait)} min wait"
    if nearest is None or nearest[3] is feature:
        return f"Nearest, {round(walk)} min walk; {wait_words}"
    further = round(walk - nearest[0])
    distance = f"{further} min further" if further > 0 else "about as near"
    if wait is None:
        return f"{distance}; wait unknown"
    if nearest[1] is None:
        return f"{distance}, {wait_words} (the nearest branch's wait is unknown)"
    less = round(nearest[1] - wait)
    if less > 0:
        return f"{distance}, about {less} min less waiting"
    if less < 0:
        return f"{distance}, about {-less} min more waiting"
    return f"{distance}, about the same wait"


def branch_queue(session: Session, store: QueueStore, public_id: str, now: datetime,
                 line: str = "counter") -> dict[str, Any]:
    """The queue of one branch.

    :raises NotFound: when no branch has that id.
    """
    row = _branch_row(session, public_id)
    queues = BranchQueues(session, store, now, line)
    queues.lookup_branches([(row["id"], row["timezone"])])
    answer = dict(queues.queue_json(row["id"]))
    states = queues.states.get(row["id"], {})
    answer["lines"] = [{**states[n][0], "open_desks": states[n][4], "as_of": states[n][3]}
                       for n in LINES if n in states]
    return {"branch_id": public_id, **answer, "takes_tickets": _takes_tickets(session, row["id"])}


def _branch_row(session: Session, public_id: str) -> Any:
    try:
        key = uuid.UUID(public_id)
    except ValueError:
        raise NotFound("No branch has this id.") from None
    row = session.execute(text("""
        SELECT id, public_id, kind, name, timezone, status FROM places
        WHERE public_id = :id AND kind = 'branch'"""), {"id": key}).mappings().first()
    if row is None:
        raise NotFound("No branch has this id.")
    return row


def _takes_tickets(session: Session, place_id: int) -> bool:
    return session.execute(text("SELECT EXISTS (SELECT 1 FROM queue_system_branches "
                                "WHERE place_id = :p)"), {"p": place_id}).scalar()


# --- Tickets -----------------------------------------------------------------------------------

_TICKET_COLUMNS = """
    t.id, t.public_id, t.line, t.number, t.status, t.ahead, t.change_seq, t.created_at,
    t.check_in_by, t.updated_at, t.service_date, t.place_id, p.public_id AS branch_id,
    p.name AS branch_name, p.timezone
"""


def _lapse_overdue(session: Session, now: datetime, *, user_id: int | None = None,
                   place_ids: Sequence[int] | None = None) -> None:
    """Tickets not checked in by their deadline lapse (on the next read, no timer needed)."""
    where = "user_id = :user" if user_id is not None else "place_id = ANY(:places)"
    session.execute(text(f"""
        UPDATE queue_tickets SET status = 'lapsed', updated_at = :now,
               change_seq = nextval('queue_ticket_change_seq')
        WHERE {where} AND status = 'waiting' AND check_in_by < :now"""),
        {"user": user_id, "places": list(place_ids or []), "now": now})


def take_ticket(session: Session, store: QueueStore, user_id: int, branch_public_id: str,
                line: str, now: datetime, check_in_minutes: int,
                per_hour: int) -> dict[str, Any]:
    """A remote ticket for a line at a branch.

    :raises NotFound: when no branch has that id.
    :raises Conflict: when the branch takes no tickets or the cardholder holds one already.
    :raises TooManyRequests: after `per_hour` tickets within an hour.
    """
    row = _branch_row(session, branch_public_id)
    if row["status"] != "active" or not _takes_tickets(session, row["id"]):
        raise Conflict("This branch does not take remote tickets.")
    # One cardholder's requests queue here, so the checks below cannot race each other.
    session.execute(text("SELECT pg_advisory_xact_lock(7301, CAST(:u AS int))"),
                    {"u": user_id % 2_000_000_000})
    _lapse_overdue(session, now, user_id=user_id)
    active = session.execute(text("""
        SELECT public_id FROM queue_tickets WHERE user_id = :u AND status = ANY(:active)"""),
        {"u": user_id, "active": list(ACTIVE_TICKET_STATUSES)}).first()
    if active is not None:
        session.rollback()
        raise Conflict("You hold a ticket already; cancel it to take another.",
                       ticket_id=str(active.public_id))
    recent = session.execute(text("""
        SELECT count(*), min(created_at) FROM queue_tickets
        WHERE user_id = :u AND created_at > :since"""),
        {"u": user_id, "since": now - timedelta(hours=1)}).one()
    if recent[0] >= per_hour:
        session.rollback()
        retry = (recent[1] + timedelta(hours=1) - now).total_seconds()
        raise TooManyRequests(f"At most {per_hour} tickets an hour.", math.ceil(retry))
    service_date = now.astimezone(ZoneInfo(row["timezone"])).date()
    # Numbers count up per branch, line and local day; the lock orders concurrent takers.
    session.execute(text("SELECT pg_advisory_xact_lock(7302, CAST(:p AS int))"),
                    {"p": row["id"] % 2_000_000_000})
    number = session.execute(text("""
        SELECT coalesce(max(number), 0) + 1 FROM queue_tickets
        WHERE place_id = :p AND line = :l AND service_date = :d"""),
        {"p": row["id"], "l": line, "d": service_date}).scalar()
    public_id = session.execute(text("""
        INSERT INTO queue_tickets (user_id, place_id, line, service_date, number, status,
                                   created_at, check_in_by, updated_at)
        VALUES (:u, :p, :l, :d, :n, 'waiting', :now, :by, :now) RETURNING public_id"""),
        {"u": user_id, "p": row["id"], "l": line, "d": service_date, "n": number, "now": now,
         "by": now + timedelta(minutes=check_in_minutes)}).scalar()
    session.commit()
    return _ticket_json(session, store, _ticket_rows(session, "t.public_id = :id",
                                                     {"id": public_id})[0], now)


def _ticket_rows(session: Session, where: str, params: dict[str, Any],
                 order: str = "t.created_at DESC, t.id DESC") -> list[Any]:
    return session.execute(text(f"""
        SELECT {_TICKET_COLUMNS} FROM queue_tickets t JOIN places p ON p.id = t.place_id
        WHERE {where} ORDER BY {order}"""), params).mappings().all()


def _label(line: str, number: int) -> str:
    return f"{TICKET_LETTERS[line]}{number:03d}"


def _ticket_json(session: Session, store: QueueStore, row: Any, now: datetime,
                 queues: BranchQueues | None = None) -> dict[str, Any]:
    active = row["status"] in ACTIVE_TICKET_STATUSES
    position = estimate = None
    source = None
    if active:
        queues = queues or BranchQueues(session, store, now, row["line"])
        queues.lookup_branches([(row["place_id"], row["timezone"])])
        state = queues.states.get(row["place_id"], {}).get(row["line"])
        if row["ahead"] is not None:
            position = row["ahead"] + 1
            if state is not None and state[2] is not None and state[4]:
                # The desks' pace from the live line, applied to those ahead of this ticket.
                estimate = estimate_wait_min(row["ahead"], state[4], state[2])
                source = "live"
        if estimate is None and state is not None:
            estimate, source = state[1], "live" if state[2] is not None else "typical"
        if row["status"] == "called":
            position, estimate = 0, 0.0
    return {
        "id": str(row["public_id"]), "label": _label(row["line"], row["number"]),
        "number": row["number"], "line": row["line"], "status": row["status"],
        "branch": {"id": str(row["branch_id"]), "name": row["branch_name"]},
        "position": position,
        "estimated_wait_min": None if estimate is None else round(estimate),
        "estimate_source": source,
        "created_at": row["created_at"].isoformat(),
        "check_in_by": row["check_in_by"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def my_tickets(session: Session, store: QueueStore, user_id: int, now: datetime) -> list[dict]:
    """The cardholder's tickets of the last day, newest first, active ones with an estimate."""
    _lapse_overdue(session, now, user_id=user_id)
    session.commit()
    rows = _ticket_rows(session, "t.user_id = :u AND t.created_at > :since",
                        {"u": user_id, "since": now - timedelta(days=1)})
    return [_ticket_json(session, store, row, now) for row in rows]


def cancel_ticket(session: Session, store: QueueStore, user_id: int, ticket_id: str,
                  now: datetime) -> dict[str, Any]:
    """Cancel the cardholder's own active ticket.

    :raises NotFound: when the cardholder has no ticket with that id.
    :raises Conflict: when the ticket is over already (served, lapsed, cancelled).
    """
    try:
        key = uuid.UUID(ticket_id)
    except ValueError:
        raise NotFound("No ticket of yours has this id.") from None
    _lapse_overdue(session, now, user_id=user_id)
    updated = session.execute(text("""
        UPDATE queue_tickets SET status = 'cancelled', updated_at = :now,
               change_seq = nextval('queue_ticket_change_seq')
        WHERE public_id = :id AND user_id = :u AND status = ANY(:active)
        RETURNING id"""), {"id": key, "u": user_id, "now": now,
                            "active": list(ACTIVE_TICKET_STATUSES)}).first()
    rows = _ticket_rows(session, "t.public_id = :id AND t.user_id = :u", {"id": key, "u": user_id})
    if not rows:
        session.rollback()
        raise NotFound("No ticket of yours has this id.")
    session.commit()
    if updated is None:
        raise Conflict(f"The ticket is {rows[0]['status']} already.")
    return _ticket_json(session, store, rows[0], now)


def _apply_ticket_reports(session: Session, branches: dict[str, _Branch],
                          reports: Sequence[dict[str, Any]], now: datetime,
                          result: IngestResult) -> None:
    """Queue systems' word on tickets: checked in, called, served, lapsed, and how many ahead.

    :raises BadRequest: for a ticket that is not of the reported branch.
    """
    place_ids = [branches[r["branch_id"]].id for r in reports if r.get("tickets")]
    if not place_ids:
        return
    _lapse_overdue(session, now, place_ids=place_ids)
    for index, report in enumerate(reports):
        place_id = branches[report["branch_id"]].id
        for position, ticket in enumerate(report.get("tickets") or []):
            row = session.execute(text("""
                SELECT id, status, ahead FROM queue_tickets
                WHERE public_id = :id AND place_id = :p FOR UPDATE"""),
                {"id": ticket["id"], "p": place_id}).first()
            if row is None:
                raise BadRequest("A ticket is not of this branch.", [{
                    "field": f"reports.{index}.tickets.{position}.id",
                    "message": "No ticket of this branch has this id."}])
            status = ticket["status"]
            moves = status != row.status and row.status in TICKET_MOVES.get(status, set())
            ahead_changes = (status == row.status and status in ACTIVE_TICKET_STATUSES
                             and ticket.get("ahead") is not None
                             and ticket["ahead"] != row.ahead)
            if not (moves or ahead_changes):
                result.tickets_ignored += status != row.status
                continue
            session.execute(text("""
                UPDATE queue_tickets SET status = :s, ahead = :a, updated_at = :now,
                       change_seq = nextval('queue_ticket_change_seq')
                WHERE id = :id"""), {"s": status, "now": now, "id": row.id,
                                     "a": ticket.get("ahead", row.ahead)})
            result.tickets_updated += 1


def ticket_changes(session: Session, user_id: int, after: int, limit: int,
                   now: datetime, branch_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """Tickets of the caller's branches changed after change number `after`, oldest first.

    Nothing about the cardholder is sent but the ticket itself (no name, no position).
    """
    params: dict[str, Any] = {"user": user_id, "after": after, "k": limit + 1}
    clause = ""
    if branch_ids is not None:
        clause = "AND p.public_id = ANY(:ids)"
        params["ids"] = [uuid.UUID(b) for b in branch_ids]
    places = [r.place_id for r in session.execute(text(
        f"""SELECT b.place_id FROM queue_system_branches b JOIN places p ON p.id = b.place_id
            WHERE b.user_id = :user {clause}"""), params).all()]
    _lapse_overdue(session, now, place_ids=places)
    session.commit()
    params["places"] = places
    rows = _ticket_rows(session, "t.place_id = ANY(:places) AND t.change_seq > :after",
                        params, order="t.change_seq LIMIT :k")
    more = len(rows) > limit
    rows = rows[:limit]
    changes = [{"id": str(r["public_id"]), "branch_id": str(r["branch_id"]), "line": r["line"],
                "label": _label(r["line"], r["number"]), "number": r["number"],
                "status": r["status"], "created_at": r["created_at"].isoformat(),
                "check_in_by": r["check_in_by"].isoformat(), "change": r["change_seq"]}
               for r in rows]
    last = changes[-1]["change"] if changes else after
    return {"tickets": changes, "next_after": last, "more": more}
