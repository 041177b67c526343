"""Request and response schemas of merchants, stores, offers, review and offers near me.

Every request schema keeps marshmallow's default `unknown = RAISE`: a field a caller may not
set (`status`, `merchant_id`, `verified`, ...) is answered with a 400 naming it, never ignored.
"""

from __future__ import annotations

import math
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from backend import vocab
from backend.geo import latitude_problem, longitude_problem
from backend.offers.areas import AreaProblem, parse_area
from backend.offers.models import BENEFIT_TYPES, MERCHANT_STATUSES, OFFER_STATUSES

MAX_RADIUS_M = 50_000
DEFAULT_RADIUS_M = 5_000
_CURRENCY = validate.Regexp(r"^[A-Z]{3}$", error="Must be an ISO 4217 code such as GBP.")
_COUNTRY = validate.Regexp(r"^[A-Z]{2}$", error="Must be an ISO 3166-1 alpha-2 code such as GB.")


def _text(max_length: int, **kwargs: Any) -> fields.String:
    def check(value: str) -> None:
        if not value.strip():
            raise ma.ValidationError("Must not be blank.")
        if len(value) > max_length:
            raise ma.ValidationError(f"At most {max_length} characters.")

    # The OpenAPI document states the same rule: 1 to max_length characters, not all blank.
    metadata = {"minLength": 1, "maxLength": max_length, "pattern": r"\S",
                **kwargs.pop("metadata", {})}
    return fields.String(validate=check, metadata=metadata, **kwargs)


class GeoJSONPoint(fields.Field):
    """A GeoJSON Point `{"type": "Point", "coordinates": [lon, lat]}`, loaded as (lat, lon)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        for key, value in {
            "type": "object", "required": ["type", "coordinates"],
            "additionalProperties": False,
            "properties": {"type": {"type": "string", "enum": ["Point"]},
                           "coordinates": {"type": "array", "items": {"type": "number"},
                                           "minItems": 2, "maxItems": 3}},
            "example": {"type": "Point", "coordinates": [-0.1414, 51.5382]},
        }.items():
            self.metadata.setdefault(key, value)

    def _deserialize(self, value, attr, data, **kwargs) -> tuple[float, float]:
        hint = 'Must be a GeoJSON Point: {"type": "Point", "coordinates": [lon, lat]}.'
        if not isinstance(value, dict) or value.get("type") != "Point" or set(value) - {
                "type", "coordinates"}:
            raise ma.ValidationError(hint)
        position = value.get("coordinates")
        if not isinstance(position, list) or len(position) not in (2, 3) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in position):
            raise ma.ValidationError(hint)
        lon, lat = float(position[0]), float(position[1])
        problem = longitude_problem(lon)
        if problem:
            raise ma.ValidationError(f"Longitude {problem}.")
        problem = latitude_problem(lat)
        if problem:
            raise ma.ValidationError(f"Latitude {problem} (GeoJSON positions are [lon, lat]).")
        return lat, lon


class GeoJSONPolygonArea(fields.Field):
    """An offer area: a GeoJSON Polygon checked by `backend.offers.areas.parse_area`."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.metadata.setdefault("type", "object")

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return parse_area(value)
        except AreaProblem as exc:
            message = str(exc)
            raise ma.ValidationError(message[0].upper() + message[1:] + ".") from None


# --- merchants --------------------------------------------------------------------------------

class _MerchantFields(ma.Schema):
    name = _text(200)
    category = fields.String(validate=validate.OneOf(vocab.OFFER_CATEGORIES))
    contact_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    contact_email = fields.Email(validate=validate.Length(max=254))
    contact_phone = fields.String(allow_none=True, validate=validate.Regexp(
        r"^\+?[0-9 ()-]{5,31}$", error="Must be a phone number such as +44 20 7946 0000."))
    website = fields.URL(allow_none=True, schemes={"https", "http"},
                         validate=validate.Length(max=500))


class MerchantRegistrationSchema(_MerchantFields):
    """A new merchant: the login of its user, and the business. It starts unverified."""

    email = fields.Email(required=True, validate=validate.Length(max=254),
                         metadata={"description": "The merchant user's login."})
    password = fields.String(required=True, load_only=True,
                             validate=validate.Length(min=10, max=1024))
    name = _text(200, required=True)
    category = fields.String(required=True, validate=validate.OneOf(vocab.OFFER_CATEGORIES))
    contact_email = fields.Email(validate=validate.Length(max=254), metadata={
        "description": "Where reviewers reach the business; defaults to `email`."})


class MerchantUpdateSchema(_MerchantFields):
    """What a merchant may change about itself."""

    max_offers_shown = fields.Integer(validate=validate.Range(min=1, max=10), metadata={
        "description": "At most this many of the merchant's offers in one answer to a "
                       "cardholder."})


class MerchantSchema(ma.Schema):
    """A merchant as the merchant and reviewers see it."""

    id = fields.String()
    name = fields.String()
    category = fields.String()
    contact_name = fields.String(allow_none=True)
    contact_email = fields.String()
    contact_phone = fields.String(allow_none=True)
    website = fields.String(allow_none=True)
    max_offers_shown = fields.Integer()
    verification = fields.Dict(metadata={"description": "status (unverified, verified, "
                                                        "rejected), reason, verified_at"})
    created_at = fields.String()
    updated_at = fields.String()
    version = fields.Integer()


# --- stores -----------------------------------------------------------------------------------

class _StoreFields(ma.Schema):
    name = _text(200)
    street = fields.String(allow_none=True, validate=validate.Length(max=200))
    locality = fields.String(allow_none=True, validate=validate.Length(max=100))
    postcode = fields.String(allow_none=True, validate=validate.Length(max=16))
    country = fields.String(validate=_COUNTRY, metadata={
        "description": "ISO 3166-1 alpha-2; defaults to the market the point lies in."})
    location = GeoJSONPoint(metadata={
        "description": "GeoJSON Point [lon, lat]; without it the address is geocoded."})


class StoreCreateSchema(_StoreFields):
    """A new store: a name, an address, and a point or an address to geocode."""

    name = _text(200, required=True)

    @ma.validates_schema
    def _point_or_address(self, data, **kwargs):
        if "location" not in data and not any(data.get(k) for k in ("street", "postcode")):
            raise ma.ValidationError("Give a location, or a street or postcode to geocode.",
                                     "location")


class StoreUpdateSchema(_StoreFields):
    """Changes to a store; an address change without a location is geocoded again."""


class StoreSchema(ma.Schema):
    """A store, its point as GeoJSON."""

    id = fields.String()
    name = fields.String()
    address = fields.Dict()
    country = fields.String()
    timezone = fields.String()
    location = fields.Dict()
    geocoded = fields.Boolean()
    created_at = fields.String()
    updated_at = fields.String()
    version = fields.Integer()


# --- offers -----------------------------------------------------------------------------------

class BenefitSchema(ma.Schema):
    """percent_off (`percent`), amount_off (`amount` and `currency`) or free `text`."""

    type = fields.String(required=True, validate=validate.OneOf(BENEFIT_TYPES))
    percent = fields.Decimal(allow_nan=False, validate=validate.Range(
        min=0, max=100, min_inclusive=False))
    amount = fields.Decimal(allow_nan=False, validate=validate.Range(
        min=0, max=99_999_999, min_inclusive=False))
    currency = fields.String(validate=_CURRENCY)
    text = _text(200)

    _NEEDS = {"percent_off": {"percent"}, "amount_off": {"amount", "currency"},
              "text": {"text"}}

    @ma.validates_schema
    def _consistent(self, data, **kwargs):
        kind = data.get("type")
        if kind not in self._NEEDS:
            return
        needed = self._NEEDS[kind]
        errors: dict[str, list[str]] = {}
        for name in needed - set(data):
            errors[name] = [f"Required for {kind}."]
        for name in set(data) - needed - {"type"}:
            errors[name] = [f"Not used by {kind}."]
        if kind == "percent_off" and "percent" in data and data["percent"] != round(
                data["percent"], 2):
            errors["percent"] = ["At most two decimals."]
        if kind == "amount_off" and "amount" in data and data["amount"] != round(
                data["amount"], 2):
            errors["amount"] = ["At most two decimals."]
        if errors:
            raise ma.ValidationError(errors)


class _OfferFields(ma.Schema):
    title = _text(120)
    description = _text(2000)
    terms = _text(4000)
    category = fields.String(validate=validate.OneOf(vocab.OFFER_CATEGORIES))
    benefit = fields.Nested(BenefitSchema)
    valid_from = fields.AwareDateTime(metadata={"description": "ISO 8601 with an offset."})
    valid_until = fields.AwareDateTime(metadata={
        "description": "ISO 8601 with an offset; the offer expires at this instant."})
    eligible_tiers = fields.List(fields.String(validate=validate.OneOf(vocab.CARD_TIERS)),
                                 validate=validate.Length(min=1))
    store_ids = fields.List(fields.UUID(), validate=validate.Length(min=1, max=200), metadata={
        "description": "Ids of the merchant's own stores where the offer applies."})
    area = GeoJSONPolygonArea(allow_none=True, metadata={
        "description": "Optional GeoJSON Polygon (exterior ring counter-clockwise, at most "
                       "1000 km², inside one service region): a cardholder inside it sees the "
                       "offer wherever the nearest store is."})

    @ma.validates_schema
    def _window(self, data, **kwargs):
        start, end = data.get("valid_from"), data.get("valid_until")
        if start is not None and end is not None and not start < end:
            raise ma.ValidationError("Must be after valid_from.", "valid_until")


class OfferCreateSchema(_OfferFields):
    """A new offer. It goes to review unless `submit` is false (then it stays a draft)."""

    title = _text(120, required=True)
    description = _text(2000, required=True)
    terms = _text(4000, required=True)
    category = fields.String(required=True, validate=validate.OneOf(vocab.OFFER_CATEGORIES))
    benefit = fields.Nested(BenefitSchema, required=True)
    valid_from = fields.AwareDateTime(required=True)
    valid_until = fields.AwareDateTime(required=True)
    eligible_tiers = fields.List(fields.String(validate=validate.OneOf(vocab.CARD_TIERS)),
                                 required=True, validate=validate.Length(min=1))
    store_ids = fields.List(fields.UUID(), required=True,
                            validate=validate.Length(min=1, max=200))
    submit = fields.Boolean(load_default=True, metadata={
        "description": "Send to review now (default) or keep as a draft."})


class OfferUpdateSchema(_OfferFields):
    """Changes to an offer; a change to an approved or rejected offer sends it to review."""


class OfferListQuerySchema(ma.Schema):
    """A merchant's offers, optionally of one status."""

    status = fields.String(validate=validate.OneOf(OFFER_STATUSES),
                           metadata={"description": "Only offers of this status."})


class OfferSchema(ma.Schema):
    """An offer as its merchant and reviewers see it."""

    id = fields.String()
    status = fields.String(metadata={"description": ", ".join(OFFER_STATUSES)})
    expired = fields.Boolean(metadata={"description": "valid_until has passed."})
    visible_now = fields.Boolean(metadata={
        "description": "Approved, within its window and its merchant verified."})
    title = fields.String()
    description = fields.String()
    terms = fields.String()
    category = fields.String()
    benefit = fields.Dict()
    valid_from = fields.String()
    valid_until = fields.String()
    eligible_tiers = fields.List(fields.String())
    store_ids = fields.List(fields.String())
    area = fields.Dict(allow_none=True)
    area_km2 = fields.Float(allow_none=True)
    review = fields.Dict(metadata={"description": "reason (shown to the merchant), "
                                                  "submitted_at, reviewed_at"})
    merchant = fields.Dict(metadata={"description": "Only in the reviewers' view."})
    stores = fields.List(fields.Dict(), metadata={"description": "Only in the reviewers' view."})
    created_at = fields.String()
    updated_at = fields.String()
    version = fields.Integer()


class StatsQuerySchema(ma.Schema):
    """A range of UTC days, both ends included."""

    from_ = fields.Date(data_key="from", metadata={
        "description": "First UTC day (YYYY-MM-DD), included; by default the first shown."})
    to = fields.Date(metadata={
        "description": "Last UTC day (YYYY-MM-DD), included; by default the last shown."})

    @ma.validates_schema
    def _order(self, data, **kwargs):
        if data.get("from_") and data.get("to") and data["from_"] > data["to"]:
            raise ma.ValidationError("Must not be before `from`.", "to")


class StatsPrivacySchema(ma.Schema):
    """How the published values are protected."""

    mechanism = fields.String(metadata={"example": "two-sided geometric"})
    epsilon_per_day = fields.Float(metadata={
        "description": "Privacy loss per offer per UTC day for one cardholder."})
    noise_sd = fields.Float(metadata={"description": "Standard deviation of the noise."})
    guess_bound = fields.Float(metadata={
        "description": "e^eps / (1 + e^eps): the best rate at which anyone can guess, from one "
                       "day's value, whether a given cardholder was counted."})


class StatsSchema(ma.Schema):
    """Cardholders an offer reached per ended UTC day, with noise; nothing about who or where."""

    offer_id = fields.String()
    days = fields.List(fields.Dict(), metadata={
        "description": "{day, cardholders}, oldest first, every ended day of the offer's "
                       "validity in the range (days with nobody too): distinct cardholders "
                       "shown the offer plus noise, never below 0"})
    total_cardholder_days = fields.Integer(metadata={"description": "The sum of the days."})
    published_through = fields.String(metadata={
        "description": "The last day published (yesterday, UTC); today's count is not shown."})
    privacy = fields.Nested(StatsPrivacySchema)


# --- review -----------------------------------------------------------------------------------

class ReviewOfferQuerySchema(ma.Schema):
    """Offers of one status, oldest submission first."""

    status = fields.String(load_default="pending_review",
                           validate=validate.OneOf(OFFER_STATUSES + ("pending",)),
                           metadata={"description": "`pending` is short for `pending_review`."})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200),
                           metadata={"description": "At most this many offers in one page."})
    cursor = fields.String(metadata={"description": "`next_cursor` of the previous page."})


class ReviewMerchantQuerySchema(ma.Schema):
    """Merchants of one verification status, oldest first."""

    status = fields.String(load_default="unverified",
                           validate=validate.OneOf(MERCHANT_STATUSES),
                           metadata={"description": "Verification status to list."})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200),
                           metadata={"description": "At most this many merchants in one page."})
    cursor = fields.String(metadata={"description": "`next_cursor` of the previous page."})


class ApprovalSchema(ma.Schema):
    """What the reviewer approved: the object's `version` as they loaded it."""

    seen_version = fields.Integer(required=True, metadata={
        "description": "`version` of the offer or merchant as shown to the reviewer; if it "
                       "changed since, the approval is refused with 409."})


class RejectionSchema(ma.Schema):
    """Why: the merchant sees this."""

    reason = _text(1000, required=True)


class ReviewListSchema(ma.Schema):
    """One page of items and the cursor of the next."""

    items = fields.List(fields.Dict())
    next_cursor = fields.String(allow_none=True)


# --- offers near me ---------------------------------------------------------------------------

class CategoryList(fields.Field):
    """Comma-separated offer categories."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.metadata.setdefault("type", "string")

    def _deserialize(self, value, attr, data, **kwargs) -> tuple[str, ...]:
        if not isinstance(value, str):
            raise ma.ValidationError("Must be a comma-separated string.")
        codes = tuple(dict.fromkeys(c.strip() for c in value.split(",") if c.strip()))
        unknown = [c for c in codes if c not in vocab.OFFER_CATEGORIES]
        if unknown or not codes:
            raise ma.ValidationError("Must be one or more of: "
                                     + ", ".join(vocab.OFFER_CATEGORIES) + ".")
        return codes


def _coordinate(problem_of):
    def check(value: float) -> None:
        problem = problem_of(value) if math.isfinite(value) else "must be a finite number"
        if problem:
            raise ma.ValidationError(problem[0].upper() + problem[1:] + ".")

    return check


class NearbyOffersQuerySchema(ma.Schema):
    """Where the cardholder is now (used for this answer only), how far, which categories."""

    lat = fields.Float(required=True, allow_nan=False, validate=_coordinate(latitude_problem),
                       metadata={"description": "Latitude, WGS84 decimal degrees.",
                                 "minimum": -90, "maximum": 90})
    lon = fields.Float(required=True, allow_nan=False, validate=_coordinate(longitude_problem),
                       metadata={"description": "Longitude, WGS84 decimal degrees.",
                                 "minimum": -180, "maximum": 180})
    radius_m = fields.Float(load_default=DEFAULT_RADIUS_M, allow_nan=False,
                            validate=validate.Range(min=0, max=MAX_RADIUS_M, min_inclusive=False),
                            metadata={"description": "Search radius in metres, more than 0 and "
                                                     f"at most {MAX_RADIUS_M}."})
    category = CategoryList(metadata={
        "description": "Narrow to some of the categories you enabled (comma-separated)."})


class OfferFeatureCollectionSchema(ma.Schema):
    """Offers as a GeoJSON FeatureCollection: each feature is the offer at its nearest store."""

    type = fields.String(metadata={"example": "FeatureCollection"})
    features = fields.List(fields.Dict())
    count = fields.Integer()
    categories = fields.List(fields.String())
