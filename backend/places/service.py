"""Nearby search, repayment points, bounding-box listing and single places."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import psycopg
import psycopg.errors
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import InternalError
from sqlalchemy.orm import Session

from backend.audit import record_audit
from backend.errors import NotFound
from backend.geo import SPHEROID_OVER_SPHERE_MIN
from backend.hours import OpeningHours, local_datetime, status_at, week_schedule
from backend.i18n import N_, language, phrases
from backend.paging import (
    AfterDistance,
    AfterId,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
    split_page,
)
from backend.places.history import bump_source_version, lock_source_version, snapshot_sql
from backend.places.models import Place

# Columns every listing returns, with the point split into numbers. Rows are plain tuples
# (the hot path builds no dict per row): the R_* constants below are their positions. Values
# come as the API writes them where PostgreSQL can say so (public id and fee as text, cut-off
# as HH:MM), so that Python only copies them.
_COLUMNS = """
    p.id, p.public_id::text, p.kind, p.name, p.brand, p.street, p.locality, p.region,
    p.postcode, p.country, p.timezone, p.opening_hours::text, p.services, p.accessibility,
    p.repayment_methods, p.repayment_fee::text, p.repayment_fee_currency, p.repayment_posting,
    to_char(p.repayment_cutoff, 'HH24:MI'), p.phone, p.status, p.last_verified_at,
    ST_Y(p.location::geometry), ST_X(p.location::geometry)
"""
(R_ID, R_PUBLIC_ID, R_KIND, R_NAME, R_BRAND, R_STREET, R_LOCALITY, R_REGION, R_POSTCODE,
 R_COUNTRY, R_TIMEZONE, R_HOURS, R_SERVICES, R_ACCESSIBILITY, R_METHODS, R_FEE, R_CURRENCY,
 R_POSTING, R_CUTOFF, R_PHONE, R_STATUS, R_VERIFIED, R_LAT, R_LON, R_DISTANCE, R_BEARING,
 R_SPHERE) = range(27)
_POINT = "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography"

# Nearest first by the GiST index's KNN ordering (sphere distance), with the exact spheroid
# distance alongside; find_nearby_places re-sorts by the latter and checks the cut is exact.
# psycopg placeholders: the statement is prepared on each pooled connection.
NEARBY_SQL = f"""
SELECT {_COLUMNS},
       ST_Distance(p.location, {_POINT}) AS distance_m,
       degrees(ST_Azimuth({_POINT}, p.location)) AS bearing_deg,
       p.location <-> {_POINT} AS sphere_m
FROM places p
WHERE ST_DWithin(p.location, {_POINT}, %(radius_m)s)
  AND p.status <> 'decommissioned'
  {{filters}}
ORDER BY p.location <-> {_POINT}
LIMIT %(k)s
"""

# Fallback when the KNN candidates cannot prove the order: every match, exact order.
NEARBY_EXACT_SQL = f"""
SELECT {_COLUMNS},
       ST_Distance(p.location, {_POINT}) AS distance_m,
       degrees(ST_Azimuth({_POINT}, p.location)) AS bearing_deg,
       0.0::float8 AS sphere_m
FROM places p
WHERE ST_DWithin(p.location, {_POINT}, %(radius_m)s)
  AND p.status <> 'decommissioned'
  {{filters}}
ORDER BY distance_m, p.id
LIMIT %(k)s
"""
MAX_KNN_CANDIDATES = 4096


@dataclass(frozen=True)
class NearbyQuery:
    """A nearby search; the point lives only as long as this object."""

    lat: float
    lon: float
    radius_m: float
    limit: int
    kinds: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    accessibility: tuple[str, ...] = ()
    open_now: bool | None = None
    methods: tuple[str, ...] = ()
    fee_free: bool | None = None
    repayment_only: bool = False
    cursor: str | None = None
    # Branch queues (backend/queues): only branches whose line's estimated wait is at most this.
    max_wait_min: float | None = None
    queue_line: str = "counter"


class PlaceExtras(Protocol):
    """Data merged into nearby results from outside the places table (queues, say). It sees
    the rows as the query returns them (tuples, read with the R_* indexes)."""

    @property
    def filters(self) -> bool:
        """Whether `keep` drops anything (when not, it is not called)."""

    def keep(self, rows: Sequence[Any]) -> list[Any]:
        """The rows that pass the extra filters, in the order given."""

    def annotate(self, rows: Sequence[Any], features: list[dict[str, Any]]) -> None:
        """Add properties to the page's features (rows and features pair up by index)."""


@dataclass
class Page:
    """One page of places, as GeoJSON features, and the cursor of the next."""

    features: list[dict[str, Any]]
    next_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_geojson(self) -> dict[str, Any]:
        """The page as an RFC 7946 FeatureCollection."""
        return {"type": "FeatureCollection", "features": self.features,
                "count": len(self.features), "next_cursor": self.next_cursor, **self.extra}


def _filter_fingerprint(query: NearbyQuery) -> str:
    # A cursor only makes sense with the filters it was made for; coordinates are left out.
    extra: tuple[Any, ...] = ()
    if query.max_wait_min is not None:
        extra = (query.max_wait_min, query.queue_line)
    return _fingerprint(query.kinds, query.services, query.accessibility, query.open_now,
                        query.methods, query.fee_free, query.repayment_only, *extra)


@lru_cache(maxsize=1024)
def _fingerprint(*parts: Any) -> str:
    return uuid.uuid5(uuid.NAMESPACE_OID, repr(list(parts))).hex[:12]


def _nearby_filters(query: NearbyQuery, params: dict[str, Any]) -> str:
    clauses = []
    if query.kinds:
        clauses.append("p.kind = ANY(%(kinds)s)")
        params["kinds"] = list(query.kinds)
    if query.services:
        clauses.append("p.services @> %(services)s::text[]")
        params["services"] = list(query.services)
    if query.accessibility:
        clauses.append("p.accessibility @> %(accessibility)s::text[]")
        params["accessibility"] = list(query.accessibility)
    if query.repayment_only:
        clauses.append("cardinality(p.repayment_methods) > 0")
    if query.methods:
        clauses.append("p.repayment_methods @> %(methods)s::text[]")
        params["methods"] = list(query.methods)
    if query.fee_free is True:
        clauses.append("p.repayment_fee = 0")
    elif query.fee_free is False:
        clauses.append("p.repayment_fee > 0")
    if query.cursor:
        after = decode_cursor(query.cursor, AfterDistance)
        if after.f != _filter_fingerprint(query):
            raise InvalidCursor("The cursor belongs to a search with other filters.")
        clauses.append(f"(ST_Distance(p.location, {_POINT}), p.id) > (%(after_d)s, %(after_id)s)")
        params.update(after_d=float(after.d), after_id=after.i)
    return "".join(f"\n  AND {c}" for c in clauses)


def find_nearby_places(source: Session | psycopg.Connection, query: NearbyQuery,
                       now: datetime, extras: PlaceExtras | None = None) -> Page:
    """Places within the radius, nearest first by geodesic distance, ties broken by id.

    `source` is a psycopg connection in autocommit mode (the endpoints' hot path: one round
    trip, a prepared statement) or a SQLAlchemy session (inside its transaction, a savepoint
    around each statement). `extras` filters candidates further and adds properties to the
    page (branch queues).

    :raises InvalidCursor: for a cursor this search did not make.
    """
    params: dict[str, Any] = {"lat": query.lat, "lon": query.lon, "radius_m": query.radius_m}
    filters = _nearby_filters(query, params)
    fetch = row_fetcher(source)
    # Every opening, closing and cut-off falls on a whole minute: what depends on the time is
    # the same for any instant of this minute (and cached per minute).
    minute = now.replace(second=0, microsecond=0)
    wanted = query.limit + 1  # one more than a page tells whether there is a next page
    k = wanted + 8
    while True:
        exact = k > MAX_KNN_CANDIDATES
        sql = (NEARBY_EXACT_SQL if exact else NEARBY_SQL).format(filters=filters)
        params["k"] = k
        try:
            rows = fetch(sql, params)
        except psycopg.errors.InternalError as exc:
            # PostGIS's geography KNN can fail its own ordering check ("index returned tuples
            # in wrong order") when a place lies within ~1e-12 degrees of the query point near
            # (0, 0); the exact query answers instead of the request failing.
            if exact or "wrong order" not in str(exc):
                raise
            k = MAX_KNN_CANDIDATES + 1
            continue
        exhausted = len(rows) < k
        ordered = sorted(rows, key=_exact_order)
        if query.open_now is not None:
            ordered = [row for row in ordered
                       if _hours_status(row, minute)["open_now"] is query.open_now]
        if extras is not None and extras.filters:
            ordered = extras.keep(ordered)
        accepted = ordered[:wanted]
        # Every unfetched row is at least `floor` metres away on the spheroid, so the cut is
        # exact once the last accepted row is nearer than that.
        floor = rows[-1][R_SPHERE] * SPHEROID_OVER_SPHERE_MIN if rows else 0.0
        if exact or exhausted or (len(accepted) == wanted
                                  and accepted[-1][R_DISTANCE] < floor):
            break
        k *= 4
    page, more = accepted[:query.limit], len(accepted) > query.limit
    lang = language()  # once per request: every repayment text is in it
    features = [_feature(row, minute, lang) for row in page]
    if extras is not None:
        extras.annotate(page, features)
    next_cursor = None
    if more:
        last = page[-1]
        next_cursor = encode_cursor(AfterDistance(d=float(last[R_DISTANCE]), i=last[R_ID],
                                                  f=_filter_fingerprint(query)))
    return Page(features, next_cursor)


def _exact_order(row: Any) -> tuple[float, int]:
    return row[R_DISTANCE], row[R_ID]


def row_fetcher(source: Session | psycopg.Connection) -> Any:
    """fetch(sql, params) -> rows (tuples) for a psycopg connection or a SQLAlchemy session."""
    if isinstance(source, psycopg.Connection):
        def fetch(sql: str, params: dict[str, Any]) -> list[Any]:
            # Binary results: numbers, arrays and timestamps decode faster than from text.
            return source.execute(sql, params, prepare=True, binary=True).fetchall()
        return fetch

    def fetch_in_session(sql: str, params: dict[str, Any]) -> list[Any]:
        try:
            with source.begin_nested():
                return list(source.connection().exec_driver_sql(sql, params))
        except InternalError as exc:
            raise exc.orig from None
    return fetch_in_session


def _hours(row: Any) -> OpeningHours | None:
    return _parse_hours(row[R_HOURS]) if row[R_HOURS] else None


@lru_cache(maxsize=4096)
def _parse_hours(document: str) -> OpeningHours:
    # Many places share a schedule; parsing each distinct one once keeps it off the hot path.
    return OpeningHours.from_json(json.loads(document))


_CLOSED = {"open_now": False, "next_change": None, "closes_soon": False}
_UNKNOWN = {"open_now": None, "next_change": None, "closes_soon": False}


def _hours_status(row: Any, minute: datetime) -> dict[str, Any]:
    """open_now / next change / closes_soon of a row at `minute` (a whole minute); unknown
    hours give open_now None.

    The dict returned is shared (cached): copy it, never change it.
    """
    if row[R_STATUS] != "active":
        return _CLOSED
    if not row[R_HOURS]:
        return _UNKNOWN
    # Every opening and closing falls on a whole minute, so the status is the same for any
    # instant within a minute: places sharing a schedule and a zone share one computation.
    return _status_in_minute(row[R_HOURS], row[R_TIMEZONE], minute)


@lru_cache(maxsize=8192)
def _status_in_minute(document: str, tz: str, minute: datetime) -> dict[str, Any]:
    status = status_at(_parse_hours(document), tz, minute)
    next_change = None
    if status.next_change_at is not None:
        next_change = {"at": status.next_change_at.isoformat(), "kind": status.next_change}
    return {"open_now": status.open_now, "next_change": next_change,
            "closes_soon": status.closes_soon}


def _repayment(row: Any, minute: datetime, lang: str) -> dict[str, Any] | None:
    """How to repay a card at this place (texts in `lang`), or None when it takes none.

    The answer is shared (cached): copy it, never change it.
    """
    methods = row[R_METHODS]
    if not methods:
        return None
    return _repayment_facts(row[R_KIND], tuple(methods), row[R_FEE], row[R_CURRENCY],
                            row[R_POSTING], row[R_CUTOFF], row[R_TIMEZONE], minute, lang)


@lru_cache(maxsize=4096)
def _repayment_facts(kind: str, methods: tuple[str, ...], fee: str | None,
                     currency: str | None, posting: str | None, cutoff: str | None, tz: str,
                     minute: datetime, lang: str) -> dict[str, Any]:
    # Places of one bank share their repayment facts, and a cut-off falls on a whole minute:
    # "passed" is the same for every instant of `minute` (now >= cut-off iff minute >= it).
    cutoff_today = None
    cutoff_passed = None
    if cutoff is not None:
        cutoff_at = _cutoff_at(tz, cutoff, minute)
        cutoff_today = cutoff_at.isoformat()
        cutoff_passed = minute >= cutoff_at
    return {
        "methods": list(methods),
        "how": _how_text(lang, kind, methods),
        "fee": None if fee is None else {"amount": fee, "currency": currency},
        "fee_free": fee is not None and _is_zero(fee),
        "posting": posting,
        "posting_text": phrases(REPAYMENT_PHRASES, lang).get(posting) if posting else None,
        "cutoff_today": cutoff_today,
        "cutoff_passed": cutoff_passed,
    }


@lru_cache(maxsize=256)
def _is_zero(amount: str) -> bool:
    return Decimal(amount) == 0


@lru_cache(maxsize=4096)
def _cutoff_at(tz: str, cutoff: str, minute: datetime) -> datetime:
    # Today's cut-off in the place's zone: the same for every instant of a minute.
    today = minute.astimezone(_zone(tz)).date()
    return local_datetime(tz, today, cutoff)


# The repayment lines' words, translated once per language (backend/i18n.py).
REPAYMENT_PHRASES = {
    "branch": N_("at the counter"), "atm": N_("at the deposit machine"),
    "partner_outlet": N_("at the till"),
    "cash": N_("cash"), "cheque": N_("cheque"), "debit_card": N_("debit card"),
    "bank_transfer": N_("bank transfer"),
    "list_separator": N_(", "), "or": N_("{first} or {last}"),
    # {methods}: "Cash or debit card"; {where}: "at the counter".
    "how": N_("{methods} {where}"),
    "instant": N_("Credited instantly"), "same_day": N_("Credited the same day"),
    "next_business_day": N_("Credited the next business day"),
    "two_business_days": N_("Credited within two business days"),
}


@lru_cache(maxsize=1024)
def _how_text(lang: str, kind: str, methods: tuple[str, ...]) -> str:
    """'Cash or debit card at the counter', in a language; few combinations, each made once."""
    words = phrases(REPAYMENT_PHRASES, lang)
    names = [words.get(m, m) for m in methods]
    joined = names[0] if len(names) == 1 else words["or"].format(
        first=words["list_separator"].join(names[:-1]), last=names[-1])
    text_ = words["how"].format(methods=joined, where=words[kind])
    return text_[0].upper() + text_[1:]


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _base_properties(row: Any) -> dict[str, Any]:
    verified = row[R_VERIFIED]
    return {
        "id": row[R_PUBLIC_ID],
        "kind": row[R_KIND],
        "name": row[R_NAME],
        "brand": row[R_BRAND],
        "address": {"street": row[R_STREET], "locality": row[R_LOCALITY],
                    "region": row[R_REGION], "postcode": row[R_POSTCODE],
                    "country": row[R_COUNTRY]},
        "status": row[R_STATUS],
        "timezone": row[R_TIMEZONE],
        "services": row[R_SERVICES] or [],
        "accessibility": row[R_ACCESSIBILITY] or [],
        "phone": row[R_PHONE],
        "last_verified_at": verified.isoformat() if verified else None,
    }


def _geometry(row: Any) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(row[R_LON], 7), round(row[R_LAT], 7)]}


def bearing_degrees(degrees: float) -> float:
    """A bearing rounded to 0.1 degree, in [0, 360): 359.97 is 0.0, never 360.0."""
    return round(degrees, 1) % 360.0


def _feature(row: Any, minute: datetime, lang: str) -> dict:
    properties = _base_properties(row)
    bearing = row[R_BEARING]  # None when the place is exactly at the query point
    properties["distance_m"] = round(row[R_DISTANCE], 1)
    properties["bearing_deg"] = None if bearing is None else bearing_degrees(bearing)
    properties.update(_hours_status(row, minute))
    properties["repayment"] = _repayment(row, minute, lang)
    return {"type": "Feature", "id": properties["id"], "geometry": _geometry(row),
            "properties": properties}


def store_in_spatial_order(session: Session | Connection) -> None:
    """Rewrite `places` in the order of its GiST index, and refresh the planner's statistics.

    A nearby search reads every candidate's row from the table; stored in spatial order,
    neighbours share pages and a search touches a few pages instead of one per candidate
    (docs/benchmarks.md). Rows written later (uploads) are appended wherever there is room, so
    operators run this after a bulk load and from time to time (`flask places reorder`). It
    locks the table for its duration (seconds per million places): reads wait meanwhile.
    The caller commits.
    """
    session.execute(text("CLUSTER places USING ix_places_location"))
    session.execute(text("ANALYZE places"))


def get_place(session: Session, public_id: str, now: datetime) -> dict[str, Any]:
    """One place as a GeoJSON Feature with its week of opening hours.

    :raises NotFound: when no place has that id.
    """
    row = _one_row(session, public_id)
    properties = _base_properties(row)
    minute = now.replace(second=0, microsecond=0)
    properties.update(_hours_status(row, minute))
    properties["repayment"] = _repayment(row, minute, language())
    hours = _hours(row)
    if hours is None:
        properties["opening_hours"] = None
    else:
        text_hours, text_exceptions = hours.to_text()
        today = now.astimezone(_zone(row[R_TIMEZONE])).date()
        properties["opening_hours"] = {
            "text": text_hours,
            "exceptions_text": text_exceptions or None,
            "week": [_day_json(day, today) for day in week_schedule(hours, today)],
            **hours.to_json(),
        }
    return {"type": "Feature", "id": properties["id"], "geometry": _geometry(row),
            "properties": properties}


def _day_json(day: Any, today: date) -> dict[str, Any]:
    return {"date": day.date.isoformat(), "weekday": day.date.strftime("%a"),
            "today": day.date == today, "intervals": [list(i) for i in day.intervals],
            "is_exception": day.is_exception, "note": day.note}


def find_place_key(session: Session, public_id: str) -> uuid.UUID:
    """The public id of an existing place.

    :raises NotFound: when no place has that id.
    """
    try:
        key = uuid.UUID(public_id)
    except ValueError:
        raise NotFound("No place has this id.") from None
    exists = session.execute(text("SELECT 1 FROM places WHERE public_id = :id"),
                             {"id": key}).first()
    if exists is None:
        raise NotFound("No place has this id.")
    return key


def _one_row(session: Session, public_id: str) -> Any:
    key = find_place_key(session, public_id)
    return session.connection().exec_driver_sql(
        f"SELECT {_COLUMNS} FROM places p WHERE p.public_id = %(id)s", {"id": key}).one()


def list_places_in_bbox(session: Session, bbox: tuple[float, float, float, float],
                        limit: int, kind: str | None, cursor: str | None,
                        now: datetime) -> Page:
    """Places inside a lat/lon box (for a map), ordered by id, paged by cursor.

    :raises InvalidCursor: for a cursor this search did not make.
    """
    min_lon, min_lat, max_lon, max_lat = bbox
    # A box whose west edge is east of its east edge crosses the antimeridian: two boxes.
    boxes = [(min_lon, max_lon)] if min_lon <= max_lon else [(min_lon, 180.0), (-180.0, max_lon)]
    envelope = " OR ".join(
        f"p.location::geometry && ST_MakeEnvelope(%(w{i})s, %(s)s, %(e{i})s, %(n)s, 4326)"
        for i in range(len(boxes))
    )
    params: dict[str, Any] = {"s": min_lat, "n": max_lat, "k": limit + 1}
    for i, (west, east) in enumerate(boxes):
        params[f"w{i}"], params[f"e{i}"] = west, east
    clauses = [f"({envelope})", "p.status <> 'decommissioned'"]
    if kind:
        clauses.append("p.kind = %(kind)s")
        params["kind"] = kind
    if cursor:
        clauses.append("p.id > %(after_id)s")
        params["after_id"] = decode_cursor(cursor, AfterId).i
    sql = f"SELECT {_COLUMNS} FROM places p WHERE {' AND '.join(clauses)} ORDER BY p.id LIMIT %(k)s"
    rows = session.connection().exec_driver_sql(sql, params).all()
    page, more = split_page(rows, limit)
    features = []
    for row in page:
        properties = _base_properties(row)
        properties.update(_hours_status(row, now.replace(second=0, microsecond=0)))
        features.append({"type": "Feature", "id": properties["id"],
                         "geometry": _geometry(row), "properties": properties})
    return Page(features, encode_cursor(AfterId(page[-1][R_ID])) if more else None)


def set_place_status(session: Session, public_id: str, status: str, actor_id: int) -> None:
    """Change a place's status (a maintainer closing a branch for a while, say), with history.

    :raises NotFound: when no place has that id.
    """
    key = find_place_key(session, public_id)
    # The source first, then the place: the same order as apply and rollback, so the two can
    # wait for each other but never deadlock.
    source = session.scalars(select(Place.source).where(Place.public_id == key)).one()
    lock_source_version(session, source)
    place = session.scalars(select(Place).where(Place.public_id == key).with_for_update()).one()
    if place.status == status:
        session.commit()
        return
    params = {"id": place.id, "status": status, "user": actor_id}
    session.execute(text(f"""
        INSERT INTO place_history (place_id, public_id, action, changed_fields, before,
                                   changed_by)
        SELECT p.id, p.public_id, 'status', ARRAY['status'], {snapshot_sql('p')}, :user
        FROM places p WHERE p.id = :id
    """), params)
    session.execute(text("UPDATE places SET status = :status, version = version + 1, "
                         "updated_at = now() WHERE id = :id"), params)
    session.execute(text(f"""
        UPDATE place_history h SET after = {snapshot_sql('p')}, after_version = p.version
        FROM places p WHERE p.id = :id AND h.id = (
            SELECT max(id) FROM place_history WHERE place_id = :id)
    """), params)
    bump_source_version(session, source)
    record_audit(session, "place.status", "place", str(key), actor_id, status=status)
    session.commit()
    session.expire(place)
