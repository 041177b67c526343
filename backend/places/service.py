"""Nearby search, repayment points, bounding-box listing and single places."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
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

# Columns every listing returns, with the point split into numbers.
_COLUMNS = """
    p.id, p.public_id, p.kind, p.name, p.brand, p.street, p.locality, p.region, p.postcode,
    p.country, p.timezone, p.opening_hours::text AS opening_hours, p.services, p.accessibility,
    p.repayment_methods,
    p.repayment_fee, p.repayment_fee_currency, p.repayment_posting, p.repayment_cutoff,
    p.phone, p.status, p.last_verified_at,
    ST_Y(p.location::geometry) AS lat, ST_X(p.location::geometry) AS lon
"""
_POINT = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography"

# Nearest first by the GiST index's KNN ordering (sphere distance), with the exact spheroid
# distance alongside; find_nearby_places re-sorts by the latter and checks the cut is exact.
NEARBY_SQL = f"""
SELECT {_COLUMNS},
       ST_Distance(p.location, {_POINT}) AS distance_m,
       degrees(ST_Azimuth({_POINT}, p.location)) AS bearing_deg,
       p.location <-> {_POINT} AS sphere_m
FROM places p
WHERE ST_DWithin(p.location, {_POINT}, :radius_m)
  AND p.status <> 'decommissioned'
  {{filters}}
ORDER BY p.location <-> {_POINT}
LIMIT :k
"""

# Fallback when the KNN candidates cannot prove the order: every match, exact order.
NEARBY_EXACT_SQL = f"""
SELECT {_COLUMNS},
       ST_Distance(p.location, {_POINT}) AS distance_m,
       degrees(ST_Azimuth({_POINT}, p.location)) AS bearing_deg,
       0.0::float8 AS sphere_m
FROM places p
WHERE ST_DWithin(p.location, {_POINT}, :radius_m)
  AND p.status <> 'decommissioned'
  {{filters}}
ORDER BY distance_m, p.id
LIMIT :k
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


@dataclass
class Page:
    """One page of places, as GeoJSON features, and the cursor of the next."""

    features: list[dict[str, Any]]
    next_cursor: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_geojson(self) -> dict[str, Any]:
        """The page as an RFC 7946 FeatureCollection."""
        return {"type": "FeatureCollection", "features": self.features,
                "count": len(self.features), "next_cursor": self.next_cursor}


def _filter_fingerprint(query: NearbyQuery) -> str:
    # A cursor only makes sense with the filters it was made for; coordinates are left out.
    parts = [query.kinds, query.services, query.accessibility, query.open_now, query.methods,
             query.fee_free, query.repayment_only]
    return uuid.uuid5(uuid.NAMESPACE_OID, repr(parts)).hex[:12]


def _nearby_filters(query: NearbyQuery, params: dict[str, Any]) -> str:
    clauses = []
    if query.kinds:
        clauses.append("p.kind = ANY(:kinds)")
        params["kinds"] = list(query.kinds)
    if query.services:
        clauses.append("p.services @> CAST(:services AS text[])")
        params["services"] = list(query.services)
    if query.accessibility:
        clauses.append("p.accessibility @> CAST(:accessibility AS text[])")
        params["accessibility"] = list(query.accessibility)
    if query.repayment_only:
        clauses.append("cardinality(p.repayment_methods) > 0")
    if query.methods:
        clauses.append("p.repayment_methods @> CAST(:methods AS text[])")
        params["methods"] = list(query.methods)
    if query.fee_free is True:
        clauses.append("p.repayment_fee = 0")
    elif query.fee_free is False:
        clauses.append("p.repayment_fee > 0")
    if query.cursor:
        after = decode_cursor(query.cursor, AfterDistance)
        if after.f != _filter_fingerprint(query):
            raise InvalidCursor("The cursor belongs to a search with other filters.")
        clauses.append(f"(ST_Distance(p.location, {_POINT}), p.id) > (:after_d, :after_id)")
        params.update(after_d=float(after.d), after_id=after.i)
    return "".join(f"\n  AND {c}" for c in clauses)


def find_nearby_places(session: Session, query: NearbyQuery, now: datetime) -> Page:
    """Places within the radius, nearest first by geodesic distance, ties broken by id.

    :raises InvalidCursor: for a cursor this search did not make.
    """
    params: dict[str, Any] = {"lat": query.lat, "lon": query.lon, "radius_m": query.radius_m}
    filters = _nearby_filters(query, params)
    wanted = query.limit + 1  # one more than a page tells whether there is a next page
    k = wanted + 8
    while True:
        exact = k > MAX_KNN_CANDIDATES
        sql = (NEARBY_EXACT_SQL if exact else NEARBY_SQL).format(filters=filters)
        try:
            # PostGIS's geography KNN can fail its own ordering check ("index returned tuples
            # in wrong order") when a place lies within ~1e-12 degrees of the query point near
            # (0, 0); the savepoint lets the exact query answer instead of the request failing.
            with session.begin_nested():
                rows = session.execute(text(sql), {**params, "k": k}).mappings().all()
        except InternalError as exc:
            if exact or "wrong order" not in str(exc.orig):
                raise
            k = MAX_KNN_CANDIDATES + 1
            continue
        exhausted = len(rows) < k
        accepted = []
        for row in sorted(rows, key=lambda r: (r["distance_m"], r["id"])):
            if query.open_now is not None \
                    and _hours_status(row, now)["open_now"] is not query.open_now:
                continue
            accepted.append(row)
        accepted = accepted[:wanted]
        # Every unfetched row is at least `floor` metres away on the spheroid, so the cut is
        # exact once the last accepted row is nearer than that.
        floor = rows[-1]["sphere_m"] * SPHEROID_OVER_SPHERE_MIN if rows else 0.0
        if exact or exhausted or (len(accepted) == wanted
                                  and accepted[-1]["distance_m"] < floor):
            break
        k *= 4
    page, more = accepted[:query.limit], len(accepted) > query.limit
    features = [_feature(row, now) for row in page]
    next_cursor = None
    if more:
        last = page[-1]
        next_cursor = encode_cursor(AfterDistance(d=float(last["distance_m"]), i=last["id"],
                                                  f=_filter_fingerprint(query)))
    return Page(features, next_cursor)


def _hours(row: Any) -> OpeningHours | None:
    return _parse_hours(row["opening_hours"]) if row["opening_hours"] else None


@lru_cache(maxsize=4096)
def _parse_hours(document: str) -> OpeningHours:
    # Many places share a schedule; parsing each distinct one once keeps it off the hot path.
    return OpeningHours.from_json(json.loads(document))


def _hours_status(row: Any, now: datetime) -> dict[str, Any]:
    """open_now / next change / closes_soon of a row; unknown hours give open_now None."""
    if row["status"] != "active":
        return {"open_now": False, "next_change": None, "closes_soon": False}
    if not row["opening_hours"]:
        return {"open_now": None, "next_change": None, "closes_soon": False}
    # Every opening and closing falls on a whole minute, so the status is the same for any
    # instant within a minute: places sharing a schedule and a zone share one computation.
    return _status_in_minute(row["opening_hours"], row["timezone"],
                             now.replace(second=0, microsecond=0))


@lru_cache(maxsize=8192)
def _status_in_minute(document: str, tz: str, minute: datetime) -> dict[str, Any]:
    status = status_at(_parse_hours(document), tz, minute)
    next_change = None
    if status.next_change_at is not None:
        next_change = {"at": status.next_change_at.isoformat(), "kind": status.next_change}
    return {"open_now": status.open_now, "next_change": next_change,
            "closes_soon": status.closes_soon}


def _repayment(row: Any, now: datetime) -> dict[str, Any] | None:
    """How to repay a card at this place, or None when it takes no repayments."""
    methods = list(row["repayment_methods"] or [])
    if not methods:
        return None
    fee = row["repayment_fee"]
    cutoff = row["repayment_cutoff"]
    cutoff_today = None
    cutoff_passed = None
    if cutoff is not None:
        today = now.astimezone(_zone(row["timezone"])).date()
        cutoff_at = local_datetime(row["timezone"], today, cutoff.strftime("%H:%M"))
        cutoff_today = cutoff_at.isoformat()
        cutoff_passed = now >= cutoff_at
    lang = language()
    return {
        "methods": methods,
        "how": _how_text(lang, row["kind"], tuple(methods)),
        "fee": None if fee is None else {"amount": str(fee),
                                          "currency": row["repayment_fee_currency"]},
        "fee_free": fee is not None and fee == Decimal(0),
        "posting": row["repayment_posting"],
        "posting_text": phrases(REPAYMENT_PHRASES, lang).get(row["repayment_posting"])
        if row["repayment_posting"] else None,
        "cutoff_today": cutoff_today,
        "cutoff_passed": cutoff_passed,
    }


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
    return {
        "id": str(row["public_id"]),
        "kind": row["kind"],
        "name": row["name"],
        "brand": row["brand"],
        "address": {"street": row["street"], "locality": row["locality"],
                    "region": row["region"], "postcode": row["postcode"],
                    "country": row["country"]},
        "status": row["status"],
        "timezone": row["timezone"],
        "services": list(row["services"] or []),
        "accessibility": list(row["accessibility"] or []),
        "phone": row["phone"],
        "last_verified_at": row["last_verified_at"].isoformat()
        if row["last_verified_at"] else None,
    }


def _geometry(row: Any) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(row["lon"], 7), round(row["lat"], 7)]}


def bearing_degrees(degrees: float) -> float:
    """A bearing rounded to 0.1 degree, in [0, 360): 359.97 is 0.0, never 360.0."""
    return round(degrees, 1) % 360.0


def _feature(row: Any, now: datetime) -> dict:
    properties = _base_properties(row)
    bearing = row["bearing_deg"]  # None when the place is exactly at the query point
    properties.update(distance_m=round(row["distance_m"], 1),
                      bearing_deg=None if bearing is None else bearing_degrees(bearing),
                      **_hours_status(row, now))
    properties["repayment"] = _repayment(row, now)
    return {"type": "Feature", "id": properties["id"], "geometry": _geometry(row),
            "properties": properties}


def get_place(session: Session, public_id: str, now: datetime) -> dict[str, Any]:
    """One place as a GeoJSON Feature with its week of opening hours.

    :raises NotFound: when no place has that id.
    """
    row = _one_row(session, public_id)
    properties = _base_properties(row)
    properties.update(_hours_status(row, now))
    properties["repayment"] = _repayment(row, now)
    hours = _hours(row)
    if hours is None:
        properties["opening_hours"] = None
    else:
        text_hours, text_exceptions = hours.to_text()
        today = now.astimezone(_zone(row["timezone"])).date()
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
    return session.execute(
        text(f"SELECT {_COLUMNS} FROM places p WHERE p.public_id = :id"), {"id": key}
    ).mappings().one()


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
        f"p.location::geometry && ST_MakeEnvelope(:w{i}, :s, :e{i}, :n, 4326)"
        for i in range(len(boxes))
    )
    params: dict[str, Any] = {"s": min_lat, "n": max_lat, "k": limit + 1}
    for i, (west, east) in enumerate(boxes):
        params[f"w{i}"], params[f"e{i}"] = west, east
    clauses = [f"({envelope})", "p.status <> 'decommissioned'"]
    if kind:
        clauses.append("p.kind = :kind")
        params["kind"] = kind
    if cursor:
        clauses.append("p.id > :after_id")
        params["after_id"] = decode_cursor(cursor, AfterId).i
    sql = f"SELECT {_COLUMNS} FROM places p WHERE {' AND '.join(clauses)} ORDER BY p.id LIMIT :k"
    rows = session.execute(text(sql), params).mappings().all()
    page, more = split_page(rows, limit)
    features = []
    for row in page:
        properties = _base_properties(row)
        properties.update(_hours_status(row, now))
        features.append({"type": "Feature", "id": properties["id"],
                         "geometry": _geometry(row), "properties": properties})
    return Page(features, encode_cursor(AfterId(page[-1]["id"])) if more else None)


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
