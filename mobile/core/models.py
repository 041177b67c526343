"""What the API returns, as typed values; parsing checks the shape and raises MalformedResponse."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from mobile.core.errors import MalformedResponse


def _get(obj: Any, key: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
    """obj[key] checked against `kind`; None allowed only when optional."""
    if not isinstance(obj, dict):
        raise MalformedResponse(f"expected an object holding {key!r}")
    value = obj.get(key)
    if value is None and optional:
        return None
    # bool is an int in Python; a number field must not accept true/false.
    if isinstance(value, bool) and bool not in _as_tuple(kind):
        raise MalformedResponse(f"{key!r} has the wrong type")
    if not isinstance(value, kind):
        raise MalformedResponse(f"{key!r} is missing or has the wrong type")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _strings(obj: Any, key: str, *, optional: bool = False) -> tuple[str, ...]:
    values = _get(obj, key, list, optional=optional) or []
    if not all(isinstance(v, str) for v in values):
        raise MalformedResponse(f"{key!r} must be a list of strings")
    return tuple(values)


def _instant(obj: Any, key: str) -> datetime | None:
    value = _get(obj, key, str, optional=True)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedResponse(f"{key!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise MalformedResponse(f"{key!r} has no UTC offset")
    return parsed


def _number(obj: Any, key: str, *, optional: bool = False) -> float | None:
    value = _get(obj, key, (int, float), optional=optional)
    return None if value is None else float(value)


@dataclass(frozen=True)
class Address:
    """A postal address as the API gives it."""

    street: str | None
    locality: str | None
    region: str | None
    postcode: str | None
    country: str | None

    @classmethod
    def parse(cls, obj: Any) -> Address:
        """Parse an `address` object."""
        return cls(*(_get(obj, k, str, optional=True)
                     for k in ("street", "locality", "region", "postcode", "country")))

    def lines(self) -> list[str]:
        """The address as display lines, empty parts left out."""
        second = " ".join(p for p in (self.locality, self.postcode) if p)
        return [line for line in (self.street, second, self.region) if line]


@dataclass(frozen=True)
class Fee:
    """A repayment fee."""

    amount: str
    currency: str


@dataclass(frozen=True)
class Repayment:
    """How a credit card can be repaid at a place."""

    methods: tuple[str, ...]
    how: str
    fee: Fee | None
    fee_free: bool
    posting: str | None
    cutoff_today: datetime | None
    cutoff_passed: bool | None

    @classmethod
    def parse(cls, obj: Any) -> Repayment | None:
        """Parse a `repayment` object; None stays None (no repayments there)."""
        if obj is None:
            return None
        fee_obj = _get(obj, "fee", dict, optional=True)
        fee = None
        if fee_obj is not None:
            fee = Fee(_get(fee_obj, "amount", str), _get(fee_obj, "currency", str))
        return cls(
            methods=_strings(obj, "methods"),
            how=_get(obj, "how", str, optional=True) or "",
            fee=fee,
            fee_free=bool(_get(obj, "fee_free", bool, optional=True)),
            posting=_get(obj, "posting", str, optional=True),
            cutoff_today=_instant(obj, "cutoff_today"),
            cutoff_passed=_get(obj, "cutoff_passed", bool, optional=True),
        )


QUEUE_SOURCES = ("live", "typical", "unknown")


@dataclass(frozen=True)
class QueueLine:
    """One service line of a branch: its estimated wait (None when no desk is open)."""

    line: str
    estimated_wait_min: int | None
    waiting: int | None
    open_desks: int | None = None

    @classmethod
    def parse(cls, obj: Any) -> QueueLine:
        """Parse one entry of `queue.lines`."""
        wait = _number(obj, "estimated_wait_min", optional=True)
        waiting = _number(obj, "waiting", optional=True)
        desks = _number(obj, "open_desks", optional=True)
        return cls(_get(obj, "line", str), None if wait is None else round(wait),
                   None if waiting is None else round(waiting),
                   None if desks is None else round(desks))


@dataclass(frozen=True)
class BranchQueue:
    """A branch's queue: the chosen line's wait, where it comes from, and every line."""

    line: str
    estimated_wait_min: int | None
    source: str
    as_of: datetime | None
    lines: tuple[QueueLine, ...]
    takes_tickets: bool | None = None

    @classmethod
    def parse(cls, obj: Any) -> BranchQueue | None:
        """Parse a `queue` object (or a branch's queue answer); None stays None."""
        if obj is None:
            return None
        source = _get(obj, "source", str)
        if source not in QUEUE_SOURCES:
            raise MalformedResponse(f"unknown queue source {source!r}")
        wait = _number(obj, "estimated_wait_min", optional=True)
        return cls(_get(obj, "line", str), None if wait is None else round(wait), source,
                   _instant(obj, "as_of"),
                   tuple(QueueLine.parse(x) for x in _get(obj, "lines", list)),
                   _get(obj, "takes_tickets", bool, optional=True))

    def of(self, line: str) -> QueueLine | None:
        """One line, or None where the branch does not have it."""
        return next((x for x in self.lines if x.line == line), None)


@dataclass(frozen=True)
class SoonestServed:
    """Why a branch ranks where it does in order=soonest_served."""

    walk_min: int
    total_min: int | None  # None when the branch's wait is unknown
    why: str

    @classmethod
    def parse(cls, obj: Any) -> SoonestServed | None:
        """Parse `soonest_served`; None stays None."""
        if obj is None:
            return None
        total = _number(obj, "total_min", optional=True)
        return cls(round(_number(obj, "walk_min")), None if total is None else round(total),
                   _get(obj, "why", str))


@dataclass(frozen=True)
class Ticket:
    """A remote ticket for a line at a branch."""

    id: str
    label: str
    number: int
    line: str
    status: str
    branch_id: str
    branch_name: str
    position: int | None
    estimated_wait_min: int | None
    estimate_source: str | None
    created_at: datetime | None
    check_in_by: datetime | None

    ACTIVE = ("waiting", "checked_in", "called")

    @property
    def active(self) -> bool:
        """Still in the queue (waiting, checked in or called)."""
        return self.status in self.ACTIVE

    @classmethod
    def parse(cls, obj: Any) -> Ticket:
        """Parse one ticket."""
        branch = _get(obj, "branch", dict)
        wait = _number(obj, "estimated_wait_min", optional=True)
        position = _number(obj, "position", optional=True)
        return cls(
            id=_get(obj, "id", str), label=_get(obj, "label", str),
            number=round(_number(obj, "number")), line=_get(obj, "line", str),
            status=_get(obj, "status", str), branch_id=_get(branch, "id", str),
            branch_name=_get(branch, "name", str),
            position=None if position is None else round(position),
            estimated_wait_min=None if wait is None else round(wait),
            estimate_source=_get(obj, "estimate_source", str, optional=True),
            created_at=_instant(obj, "created_at"), check_in_by=_instant(obj, "check_in_by"))

    @classmethod
    def parse_list(cls, body: Any) -> list[Ticket]:
        """Parse `GET /me/tickets` (a list, or an object holding `tickets`)."""
        items = body if isinstance(body, list) else _get(body, "tickets", list)
        return [cls.parse(x) for x in items]


@dataclass(frozen=True)
class Place:
    """A branch, ATM or partner outlet, as one feature of a nearby search or a detail."""

    id: str
    kind: str
    name: str
    brand: str | None
    lat: float
    lon: float
    address: Address
    status: str
    timezone: str | None
    services: tuple[str, ...]
    accessibility: tuple[str, ...]
    distance_m: float | None
    bearing_deg: float | None
    open_now: bool | None
    closes_soon: bool
    next_change_at: datetime | None
    next_change_kind: str | None
    repayment: Repayment | None
    phone: str | None
    # Branches only: the queue (None for ATMs and outlets), and with order=soonest_served the
    # walk and wait that ranked it.
    queue: BranchQueue | None = None
    soonest: SoonestServed | None = None

    @classmethod
    def from_feature(cls, feature: Any) -> Place:
        """Parse one GeoJSON Feature of a place."""
        geometry = _get(feature, "geometry", dict)
        coordinates = _get(geometry, "coordinates", list)
        if len(coordinates) < 2 or not all(
                isinstance(c, int | float) and not isinstance(c, bool) for c in coordinates[:2]):
            raise MalformedResponse("a place's coordinates must be [lon, lat]")
        props = _get(feature, "properties", dict)
        next_change = _get(props, "next_change", dict, optional=True)
        return cls(
            id=_get(props, "id", str),
            kind=_get(props, "kind", str),
            name=_get(props, "name", str),
            brand=_get(props, "brand", str, optional=True),
            lon=float(coordinates[0]),
            lat=float(coordinates[1]),
            address=Address.parse(_get(props, "address", dict, optional=True) or {}),
            status=_get(props, "status", str, optional=True) or "active",
            timezone=_get(props, "timezone", str, optional=True),
            services=_strings(props, "services", optional=True),
            accessibility=_strings(props, "accessibility", optional=True),
            distance_m=_number(props, "distance_m", optional=True),
            bearing_deg=_number(props, "bearing_deg", optional=True),
            open_now=_get(props, "open_now", bool, optional=True),
            closes_soon=bool(_get(props, "closes_soon", bool, optional=True)),
            next_change_at=_instant(next_change, "at") if next_change else None,
            next_change_kind=_get(next_change, "kind", str) if next_change else None,
            repayment=Repayment.parse(props.get("repayment")),
            phone=_get(props, "phone", str, optional=True),
            queue=BranchQueue.parse(_get(props, "queue", dict, optional=True)),
            soonest=SoonestServed.parse(_get(props, "soonest_served", dict, optional=True)),
        )


@dataclass(frozen=True)
class NearbyPage:
    """One page of a nearby search, nearest first."""

    places: tuple[Place, ...]
    next_cursor: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def parse(cls, body: Any) -> NearbyPage:
        """Parse a FeatureCollection of places (kept raw too, for the offline cache)."""
        if _get(body, "type", str) != "FeatureCollection":
            raise MalformedResponse("expected a FeatureCollection")
        features = _get(body, "features", list)
        return cls(tuple(Place.from_feature(f) for f in features),
                   _get(body, "next_cursor", str, optional=True), body)


@dataclass(frozen=True)
class DayHours:
    """One day of a place's week: its intervals, and whether an exception applies."""

    date: date
    today: bool
    intervals: tuple[tuple[str, str], ...]
    is_exception: bool
    note: str | None

    @classmethod
    def parse(cls, obj: Any) -> DayHours:
        """Parse one entry of `opening_hours.week`."""
        try:
            day = date.fromisoformat(_get(obj, "date", str))
        except ValueError:
            raise MalformedResponse("a day's date is not YYYY-MM-DD") from None
        intervals = []
        for interval in _get(obj, "intervals", list):
            if (not isinstance(interval, list) or len(interval) != 2
                    or not all(isinstance(t, str) for t in interval)):
                raise MalformedResponse("an interval must be [start, end]")
            intervals.append((interval[0], interval[1]))
        return cls(day, bool(_get(obj, "today", bool, optional=True)), tuple(intervals),
                   bool(_get(obj, "is_exception", bool, optional=True)),
                   _get(obj, "note", str, optional=True))


@dataclass(frozen=True)
class PlaceDetail:
    """One place with its week of opening hours (None when the hours are unknown)."""

    place: Place
    week: tuple[DayHours, ...] | None
    last_verified_at: datetime | None

    @classmethod
    def parse(cls, body: Any) -> PlaceDetail:
        """Parse the Feature of `GET /places/{id}`."""
        place = Place.from_feature(body)
        props = _get(body, "properties", dict)
        hours = _get(props, "opening_hours", dict, optional=True)
        week = None
        if hours is not None:
            week = tuple(DayHours.parse(d) for d in _get(hours, "week", list))
        return cls(place, week, _instant(props, "last_verified_at"))


@dataclass(frozen=True)
class Me:
    """The signed-in user."""

    id: str
    email: str
    role: str
    display_name: str | None
    card_tier: str | None

    @classmethod
    def parse(cls, body: Any) -> Me:
        """Parse `GET /me`."""
        return cls(_get(body, "id", str), _get(body, "email", str), _get(body, "role", str),
                   _get(body, "display_name", str, optional=True),
                   _get(body, "card_tier", str, optional=True))


@dataclass(frozen=True)
class FoundPlace:
    """Where a typed place name or postcode was understood to be."""

    lat: float
    lon: float
    label: str

    @classmethod
    def parse(cls, body: Any) -> FoundPlace:
        """Parse `GET /geocode`."""
        lat, lon = _number(body, "lat"), _number(body, "lon")
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise MalformedResponse("the place found has no valid position")
        return cls(lat, lon, _get(body, "label", str))
