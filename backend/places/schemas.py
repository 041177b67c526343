"""Request and response schemas of the places API (validation and OpenAPI)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import marshmallow as ma
from marshmallow import fields, validate

from backend import vocab
from backend.geo import latitude_problem, longitude_problem
from backend.guards import ascii_float

MAX_RADIUS_M = 50_000
DEFAULT_RADIUS_M = 5_000
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_BBOX_LIMIT = 500


def _checked(problem_of):
    def check(value: float) -> None:
        problem = problem_of(value)
        if problem:
            raise ma.ValidationError(problem[0].upper() + problem[1:] + ".")

    return check


class CodeList(fields.Field):
    """Comma-separated codes from a controlled vocabulary (`services=CashDeposits,WiFi`)."""

    def __init__(self, choices: tuple[str, ...], **kwargs) -> None:
        super().__init__(**kwargs)
        self.choices = choices
        self.metadata.setdefault("description", "Comma-separated codes: " + ", ".join(choices))
        self.metadata.setdefault("type", "string")

    def _deserialize(self, value, attr, data, **kwargs) -> tuple[str, ...]:
        if not isinstance(value, str):
            raise ma.ValidationError("Must be a comma-separated string.")
        codes = tuple(dict.fromkeys(c.strip() for c in value.split(",") if c.strip()))
        unknown = [c for c in codes if c not in self.choices]
        if unknown:
            # The allowed codes may be named; what the client sent is never echoed.
            raise ma.ValidationError(f"{len(unknown)} unknown code(s); each must be one of: "
                                     f"{', '.join(self.choices)}.")
        return codes


EARLIEST_AT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_AT = datetime(2100, 1, 1, tzinfo=UTC)


class InstantField(fields.Field):
    """An ISO 8601 date-time with a UTC offset (`2027-03-28T01:15:00Z`, `...+01:00`)."""

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        if not isinstance(value, str):
            raise ma.ValidationError("Must be an ISO 8601 date-time such as "
                                     "2027-03-28T09:30:00+01:00.")
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ma.ValidationError(f"{value[:40]!r} is not an ISO 8601 date-time such as "
                                     "2027-03-28T09:30:00+01:00.") from None
        if moment.utcoffset() is None:
            # Nearby answers span places in several zones: a bare wall-clock time is ambiguous.
            raise ma.ValidationError("Give a UTC offset (Z or +01:00): a date-time without one "
                                     "names no single moment.")
        moment = moment.astimezone(UTC)
        if not EARLIEST_AT <= moment < LATEST_AT:
            raise ma.ValidationError("Must be from 1970 to 2099.")
        return moment


AT_DESCRIPTION = ("Answer `open_now` and the next change for this moment instead of now: an ISO "
                  "8601 date-time with a UTC offset, e.g. `2027-03-28T01:15:00Z`.")


class AtQuerySchema(ma.Schema):
    """The moment a place's status is answered for."""

    at = InstantField(metadata={"description": AT_DESCRIPTION})


class PointQuerySchema(ma.Schema):
    """Where the cardholder is and how far to look."""

    lat = fields.Float(required=True, allow_nan=False, validate=_checked(latitude_problem),
                       metadata={"description": "Latitude, WGS84 decimal degrees.",
                                 "minimum": -90, "maximum": 90, "example": 51.5386})
    lon = fields.Float(required=True, allow_nan=False, validate=_checked(longitude_problem),
                       metadata={"description": "Longitude, WGS84 decimal degrees.",
                                 "minimum": -180, "maximum": 180, "example": -0.1425})
    radius_m = fields.Float(
        load_default=DEFAULT_RADIUS_M, allow_nan=False,
        validate=validate.Range(min=0, max=MAX_RADIUS_M, min_inclusive=False),
        metadata={"description": f"Search radius in metres, more than 0 and at most "
                                 f"{MAX_RADIUS_M}.", "example": 1000},
    )
    limit = fields.Integer(load_default=DEFAULT_LIMIT,
                           validate=validate.Range(min=1, max=MAX_LIMIT),
                           metadata={"description": "At most this many places in one page."})
    cursor = fields.String(metadata={"description": "`next_cursor` of the previous page."})
    open_now = fields.Boolean(metadata={"description": "Only places open right now (or at "
                                                       "`at`)."})
    at = InstantField(metadata={"description": AT_DESCRIPTION})
    services = CodeList(vocab.SERVICES)
    accessibility = CodeList(vocab.ACCESSIBILITY)


class NearbyPlacesQuerySchema(PointQuerySchema):
    """`/places/nearby` also takes the kind of place."""

    kind = fields.String(validate=validate.OneOf(vocab.PLACE_KINDS),
                         metadata={"description": "Only places of this kind."})


class RepaymentQuerySchema(PointQuerySchema):
    """Where to repay a card: by method and fee."""

    method = CodeList(vocab.REPAYMENT_METHODS,
                      metadata={"description": "Repayment methods the place must all accept."})
    fee_free = fields.Boolean(metadata={"description": "Only places that charge no fee."})


# One instance each, made once: given a class, webargs builds a new schema (and deep-copies its
# fields) on every request.
POINT_QUERY = PointQuerySchema()
NEARBY_PLACES_QUERY = NearbyPlacesQuerySchema()
REPAYMENT_QUERY = RepaymentQuerySchema()


class BboxField(fields.Field):
    """`minLon,minLat,maxLon,maxLat`; minLon > maxLon means the box crosses the antimeridian."""

    def _deserialize(self, value, attr, data, **kwargs) -> tuple[float, float, float, float]:
        parts = value.split(",") if isinstance(value, str) else []
        if len(parts) != 4:
            raise ma.ValidationError("Must be four comma-separated numbers: "
                                     "minLon,minLat,maxLon,maxLat.")
        try:
            min_lon, min_lat, max_lon, max_lat = (ascii_float(p) for p in parts)
        except ValueError as exc:
            raise ma.ValidationError(
                "Every bbox value must be a decimal number in ASCII digits.") from exc
        if not all(math.isfinite(v) for v in (min_lon, min_lat, max_lon, max_lat)):
            raise ma.ValidationError("Every bbox value must be a finite number.")
        if longitude_problem(min_lon) or longitude_problem(max_lon):
            raise ma.ValidationError("Longitudes must be between -180 and 180.")
        if latitude_problem(min_lat) or latitude_problem(max_lat):
            raise ma.ValidationError("Latitudes must be between -90 and 90.")
        if min_lat > max_lat:
            raise ma.ValidationError("minLat must not be greater than maxLat.")
        return min_lon, min_lat, max_lon, max_lat


class BboxQuerySchema(ma.Schema):
    """Places inside a map's bounding box."""

    bbox = BboxField(required=True, metadata={
        "type": "string", "example": "-0.16,51.52,-0.12,51.55",
        "description": "minLon,minLat,maxLon,maxLat in WGS84 degrees; minLon greater than "
                       "maxLon means the box crosses the antimeridian."})
    kind = fields.String(validate=validate.OneOf(vocab.PLACE_KINDS),
                         metadata={"description": "Only places of this kind."})
    limit = fields.Integer(load_default=MAX_BBOX_LIMIT,
                           validate=validate.Range(min=1, max=MAX_BBOX_LIMIT),
                           metadata={"description": "At most this many places in one page."})
    cursor = fields.String(metadata={"description": "`next_cursor` of the previous page."})


class PlaceStatusSchema(ma.Schema):
    """A maintainer's change of a place's status."""

    status = fields.String(required=True, validate=validate.OneOf(vocab.PLACE_STATUSES))


class FeatureCollectionSchema(ma.Schema):
    """A GeoJSON FeatureCollection (RFC 7946) of places; see the guide for properties."""

    type = fields.String(metadata={"example": "FeatureCollection"})
    features = fields.List(fields.Dict())
    next_cursor = fields.String(allow_none=True)
    count = fields.Integer()
    order = fields.Dict(metadata={
        "description": "With order=soonest_served: the line ranked, the walking pace used, and "
                       "whether the ranking is exact."})


class FeatureSchema(ma.Schema):
    """A GeoJSON Feature of one place."""

    type = fields.String(metadata={"example": "Feature"})
    id = fields.String()
    geometry = fields.Dict()
    properties = fields.Dict()
